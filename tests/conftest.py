"""Shared test configuration: ``pytester`` runs throwaway pytest sessions for the plugin's tests."""

pytest_plugins = ["pytester"]
