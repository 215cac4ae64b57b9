"""The account area: registration, the confirmation and reset links, the account page (/konto) with
name, password, second factor, sessions, sign-in providers and the person's data."""
