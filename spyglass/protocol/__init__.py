"""The Sentry wire format: DSNs, auth, envelopes. No ORM, no I/O."""
