"""`python -m arc_eks.dashboards`: write dashboards/arc-eks.json from the generator."""

from arc_eks.dashboards import main

main()
