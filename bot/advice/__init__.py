"""Advice computed from the numbers triage found: pool settings for the application's own stack
(`pools`) and a max_connections the machine's memory can hold (`memory`)."""
