package net.servicestack.client;

import java.lang.annotation.*;

@Retention(RetentionPolicy.RUNTIME)
public @interface ApiMember {
    String Description() default "";
}
