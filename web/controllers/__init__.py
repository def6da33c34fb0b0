"""HTTP controllers: the student pages, the JSON API, health; each parses, calls a service, renders."""
