"""Provider webhooks: the event schema, storing an event once, applying it once."""
