"""`bwcolor edit`: the session behind the page, the local web server, and the page itself
(web/). Imports pipeline, image, models, files and the ground."""
