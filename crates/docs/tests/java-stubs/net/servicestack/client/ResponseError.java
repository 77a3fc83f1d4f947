package net.servicestack.client;

import java.util.HashMap;

// Stand-in for ServiceStack.Java's net.servicestack.client.ResponseError.
public class ResponseError {
    public String errorCode = null;
    public String fieldName = null;
    public String message = null;
    public HashMap<String, String> meta = null;
}
