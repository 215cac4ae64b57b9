"""The signed-in person's account: pages about themselves (name, password, second factor, sessions,
sign-in providers, their data)."""
