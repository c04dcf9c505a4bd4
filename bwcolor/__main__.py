from bwcolor.cli import run

run()
