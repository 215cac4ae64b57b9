"""Organizations join the platform: claims, members and invitations (issue 14)."""
