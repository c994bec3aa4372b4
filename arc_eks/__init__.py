"""arc-eks: GitHub Actions self-hosted runners (actions-runner-controller) on Amazon EKS."""
