output "distribution_id" {
  description = "ID of the CloudFront distribution (for invalidations)."
  value       = aws_cloudfront_distribution.api.id
}

output "distribution_arn" {
  description = "ARN of the CloudFront distribution."
  value       = aws_cloudfront_distribution.api.arn
}

output "domain_name" {
  description = "The distribution's cloudfront.net host name; point the aliases' DNS here."
  value       = aws_cloudfront_distribution.api.domain_name
}

output "hosted_zone_id" {
  description = "Route 53 zone ID for alias records to the distribution."
  value       = aws_cloudfront_distribution.api.hosted_zone_id
}

output "api_get_cache_policy_id" {
  description = "ID of the cache policy for cacheable GET responses."
  value       = aws_cloudfront_cache_policy.api_get.id
}
