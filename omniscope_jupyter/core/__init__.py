"""The core: the plugin lifecycle and ``PluginSystem``, the one front door every caller uses."""
