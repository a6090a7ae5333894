"""quart-chat: real-time group chat, server-rendered by Quart and htmx."""

__version__ = "0.1.0"
