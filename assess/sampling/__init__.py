"""National sample design: a school frame, stratified PPS selection, weights, jackknife zones, participation.

``frame`` reads and checks the school frame; ``design`` the TOML design file; ``select`` draws
the schools; ``weights`` computes the student weights after testing; ``jackknife`` forms the
JK2 zones and replicate weights; ``participation`` the response rates; ``store`` keeps a draw
and its weights in the database with the people tree.
"""
