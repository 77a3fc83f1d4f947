package net.servicestack.client;

import java.lang.annotation.*;

@Retention(RetentionPolicy.RUNTIME)
public @interface Routes {
    Route[] value();
}
