"""The knowledge hub: case studies, guides (reading and the editor), the Stufenplan stages."""
