"""Local development only: the emulator stack and the storage-event bridge. Never deployed."""
