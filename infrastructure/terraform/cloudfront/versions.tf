terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

# CloudFront is global; its API, and ACM certificates for it, live in us-east-1.
provider "aws" {
  region = var.aws_region
}
