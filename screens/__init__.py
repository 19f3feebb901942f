"""The Textual console: one module per screen, reusable widgets in screens/widgets/."""
