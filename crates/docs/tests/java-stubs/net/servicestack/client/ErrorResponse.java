package net.servicestack.client;

// Stand-in for ServiceStack.Java's net.servicestack.client.ErrorResponse.
public class ErrorResponse {
    public ResponseStatus responseStatus = null;
}
