"""`python -m arc_eks.review --stack <env>` (`make review`): see `arc_eks.review.run`."""

import sys

from arc_eks.review.run import main

sys.exit(main())
