"""Tests of the store and marketplace on a throwaway PostgreSQL server."""
