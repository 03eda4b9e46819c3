"""Built-in rule sets, named like Sentry's bases. They run before a project's own rules
(stack trace rules) or after them (fingerprint rules).

The stack trace rules cover what Sentry's `all-platforms@2023-01-11` base does for the
platforms Spyglass sees most (Python, JavaScript, Node, Go, JVM, Dart, Rust/C++ borders);
Sentry's long native frame categorisation (Windows, Apple, Android system libraries) is
abbreviated to its most common entries. See README.md.
"""

from __future__ import annotations

ENHANCEMENT_BASES: dict[str, str] = {
    "all-platforms@2023-01-11": r"""
# --- Native: where an app lives, and what is never part of it -------------------------
family:native package:/var/containers/Bundle/Application/**          +app
family:native package:/private/var/containers/Bundle/Application/**  +app
family:native package:**/Developer/CoreSimulator/Devices/**          +app
family:native package:**/Containers/Bundle/Application/**            +app
family:native package:**.app/Contents/**                             +app
family:native package:/Users/**                                      +app
family:native package:/lib/**                                        -app
family:native package:/usr/lib/**                                    -app
family:native path:/usr/local/lib/**                                 -app
family:native path:/usr/local/Cellar/**                              -app
family:native package:linux-gate.so*                                 -app

# Rust standard library, and the frames a panic adds on top of the real culprit
family:native function:std::*                                        -app
family:native function:core::*                                      -app
family:native function:alloc::*                                      -app
family:native function:__rust_*                                      -app
family:native function:rust_begin_unwind                             -app
family:native function:std::panicking::begin_panic        ^-group -group ^-app -app
family:native function:core::panicking::begin_panic       ^-group -group ^-app -app
family:native function:failure::backtrace::Backtrace::new ^-group -group ^-app -app
family:native function:error_chain::make_backtrace        ^-group -group ^-app -app
family:native function:std::panicking::panic_fmt          ^-app -app
family:native function:core::panicking::panic_fmt         ^-app -app

# C++ and Objective-C throwing machinery
family:native function:_CxxThrowException                 ^-group -group ^-app -app
family:native function:__cxa_throw                        ^-group -group ^-app -app
family:native function:__assert_rtn                       ^-group -group ^-app -app
family:native function:_NSRaiseError                      ^-group -group ^-app -app
family:native function:_mh_execute_header                 -group -app

# Crash reporters
family:native function:google_breakpad::*                 -app -group
family:native function:google_breakpad::ExceptionHandler::SignalHandler ^-group -group
family:native function:google_breakpad::ExceptionHandler::WriteMinidumpWithException ^-group -group
family:native package:**/Frameworks/libswift*.dylib       -app
family:native package:**/Frameworks/KSCrash.framework/**  -app
family:native package:**/Frameworks/SentrySwift.framework/** -app
family:native package:**/Frameworks/Sentry.framework/**   -app
family:native function:kscm_*                             -app -group
family:native function:sentrycrashcm_*                    -app -group
family:native function:kscrash_*                          -app -group
family:native function:*sentrycrash_*                     -app -group
family:native function:"?[[]KSCrash*"                     -app -group
family:native function:"?[[]RNSentry*"                    -app -group
family:native function:"__*[[]Sentry*"                    -app -group
family:native function:"?[[]Sentry*"                      -app -group

# Native frame categories that grouping ignores
family:native function:abort                              category=throw
family:native function:raise                              category=throw
family:native function:std::terminate                     category=throw
family:native function:objc_exception_throw               category=throw
family:native function:RaiseException                     category=throw
family:native function:_CFThrowFormattedException         category=throw
family:native function:_sigtramp                          category=handler
family:native function:RtlpExecuteHandlerForException     category=handler
family:native package:/usr/lib/system/** function:start   category=threadbase
family:native package:libdyld.dylib function:start        category=threadbase
family:native function:thread_start                       category=threadbase
family:native function:_pthread_start                     category=threadbase
family:native function:__pthread_start                    category=threadbase
family:native function:_pthread_body                      category=threadbase
family:native function:BaseThreadInitThunk                category=threadbase
family:native function:RtlUserThreadStart                 category=threadbase
family:native function:start_wqthread                     category=threadbase
family:native function:_pthread_wqthread                  category=threadbase
family:native package:"/System/Library/Frameworks/**"     category=system
family:native package:"C:/Windows/**"                     category=system
family:native package:/usr/lib/**                         category=system
family:native package:libobjc*                            category=system
family:native package:libsystem*                         category=system
family:native package:/system/**                          category=system
family:native function:*::operator()*                     category=indirection
family:native function:__dynamic_cast                     category=indirection
family:native function:*.cold.1                           category=indirection
[ category:throw ] | category:throw                       category=internals
category:throw                                            ^-group
category:system                                           -app
category:threadbase                                       -group v-group
category:handler                                          ^-group -group
category:indirection                                      -group
category:internals                                        -group

# --- JVM ------------------------------------------------------------------------------
module:java.*                           category=std
module:javax.crypto.*                   category=std
module:android.*                        category=std
module:androidx.*                       category=std
module:akka.*                           category=framework
module:com.fasterxml.*                  category=framework
module:com.microsoft.*                  category=framework
module:com.sun.*                        category=framework
module:feign.*                          category=framework
module:io.opentelemetry.*               category=framework
module:io.sentry.*                      category=framework -group
module:jdk.*                            category=framework
module:oauth.*                          category=framework
module:org.apache.*                     category=framework
module:org.glassfish.*                  category=framework
module:org.jboss.*                      category=framework
module:org.jdesktop.*                   category=framework
module:org.postgresql.*                 category=framework
module:org.springframework.*            category=framework
module:org.web3j.*                      category=framework
module:reactor.core.*                   category=framework
module:scala.*                          category=framework
module:sun.*                            category=framework
category:framework                      -app
module:kotlin.*                         -app
module:kotlinx.*                        -app
module:io.ktor.*                        -app
module:io.netty.*                       -app

# --- Dart / Flutter -------------------------------------------------------------------
family:native stack.package:/data/app/** stack.abs_path:**/*.dart +app
family:javascript stack.abs_path:org-dartlang-sdk:///** -app -group
family:javascript module:**/packages/flutter/**          -app
family:native stack.abs_path:**/packages/flutter/**      -app
family:native stack.abs_path:**/.pub-cache/**            -app
stack.abs_path:package:sentry/**                         -app -group
stack.abs_path:package:sentry_flutter/**                 -app -group
stack.abs_path:package:sentry_logging/**                 -app -group
stack.abs_path:package:sentry_dio/**                     -app -group

# --- Vendored and installed packages --------------------------------------------------
path:**/vendor/**                        -app
path:**/site-packages/**                 -app
path:**/dist-packages/**                 -app
path:**/go/pkg/mod/**                    -app

# --- JavaScript and Node --------------------------------------------------------------
path:**/node_modules/**                  -app
module:unpkg/**                          -app
path:**https://unpkg.com/**              -app
path:**https://cdnjs.cloudflare.com/**   -app
path:**https://cdn.jsdelivr.net/**       -app
path:**https://esm.run/**                -app
family:javascript function:reportError   ^-app -app
# transpiler helpers and polyfills are noise
module:@babel/**                         -app -group
module:core-js/**                        -app -group
module:regenerator-runtime/**            -app -group
module:tslib/**                          -app -group
family:javascript function:_callSuper    -app -group
# the Node event loop
function:runMicrotasks                   -app -group
function:queueMicrotask                  -app -group
function:processTicksAndRejections       -app -group
function:runNextTicks                    -app -group
function:nextTick                        -app -group

# --- Other monitoring agents ----------------------------------------------------------
module:newrelic                          -app -group
path:**/*newrelic*/**                    -app -group
path:**/*LogRocket*/**                   -app -group
""",
}

# React's hydration errors: one issue per page rather than per stack.
_HYDRATION_MESSAGES = [
    "Hydration failed because the initial UI does not match what was rendered on the server.",
    "The server could not finish this Suspense boundary, likely due to an error during server "
    "rendering. Switched to client rendering.",
    "There was an error while hydrating this Suspense boundary. Switched to client rendering.",
    "There was an error while hydrating. Because the error happened outside of a Suspense "
    "boundary, the entire root will switch to client rendering.",
    "Text content does not match server-rendered HTML.",
]

FINGERPRINTING_BASES: dict[str, str] = {
    "javascript@2024-02-02": """
# Failed chunk loads are one problem, whatever the chunk.
family:javascript error.type:"ChunkLoadError"   -> chunkloaderror
family:javascript error.value:"ChunkLoadError*" -> chunkloaderror
"""
    + "".join(
        f'family:javascript tags.transaction:"*" message:"{message}"'
        " -> hydrationerror, {{tags.transaction}}\n"
        for message in _HYDRATION_MESSAGES
    ),
}
