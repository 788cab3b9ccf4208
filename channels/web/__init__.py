"""The website and app channel: customer sessions, messages over HTTP and WebSocket, link codes, the widget and the demo site."""
