"""What the Discord and Slack adapters share: component ids and platform-neutral text."""
