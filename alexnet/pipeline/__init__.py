"""The whole recipe as one resumable run: `stages` (the chain), `presets`
(complete configurations) and `report` (report.md and report.html)."""
