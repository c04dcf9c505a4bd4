"""The page of ``bwcolor edit``: plain HTML, JavaScript and CSS, served by bwcolor.edit.server
(no build step, nothing fetched from elsewhere: it works offline)."""
