"""Use cases. Every function is keyword-only, takes the acting principal and a session,
checks what that principal may touch, and returns plain shapes. No reflex here."""
