"""GitHub access for the Action: a small REST client and a local fake of the API for tests."""
