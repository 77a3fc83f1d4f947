package net.servicestack.client;

import java.util.ArrayList;
import java.util.HashMap;

// Stand-in for ServiceStack.Java's net.servicestack.client.ResponseStatus
// (src/AndroidClient/client/src/main/java/net/servicestack/client/ResponseStatus.java).
public class ResponseStatus {
    public String errorCode = null;
    public String message = null;
    public String stackTrace = null;
    public ArrayList<ResponseError> errors = null;
    public HashMap<String, String> meta = null;
}
