"""python3 -m katana doctor: prints katana.doctor() as JSON."""
import json
import sys

import katana

if len(sys.argv) != 2 or sys.argv[1] != "doctor":
    sys.stderr.write("usage: python3 -m katana doctor\n")
    sys.exit(2)
json.dump(katana.doctor(), sys.stdout, indent=2)
sys.stdout.write("\n")
