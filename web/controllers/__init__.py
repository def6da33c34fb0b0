"""HTTP controllers: the student pages, the JSON API, health; ``flow`` is the sitting service they share."""
