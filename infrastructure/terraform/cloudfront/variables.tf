variable "name" {
  description = "Prefix of every resource name, e.g. regatta-prod."
  type        = string
  default     = "regatta"
}

variable "aws_region" {
  description = "Region of the AWS provider; CloudFront and its certificates use us-east-1."
  type        = string
  default     = "us-east-1"
}

variable "gateway_origin_domain" {
  description = "DNS name of the gateway's load balancer (HTTPS on 443), e.g. api-origin.example.com."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9.-]+$", var.gateway_origin_domain))
    error_message = "gateway_origin_domain must be a bare host name, without scheme, port or path."
  }
}

variable "aliases" {
  description = "Public host names of the distribution (need acm_certificate_arn)."
  type        = list(string)
  default     = []
}

variable "acm_certificate_arn" {
  description = "ACM certificate (us-east-1) for the aliases; null serves the cloudfront.net name only."
  type        = string
  default     = null
}

variable "price_class" {
  description = "Edge locations used: PriceClass_100, PriceClass_200 or PriceClass_All."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.price_class)
    error_message = "price_class must be PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

variable "cached_path_patterns" {
  description = "Paths whose GET responses may be cached (persisted GraphQL queries); everything else is never cached."
  type        = list(string)
  default     = ["/graphql", "/graphql/*"]
}

variable "default_ttl_seconds" {
  description = "TTL of a cacheable-path response that has no Cache-Control; 0 keeps it uncached."
  type        = number
  default     = 0
}

variable "max_ttl_seconds" {
  description = "Upper bound on the origin's Cache-Control max-age / s-maxage."
  type        = number
  default     = 86400

  validation {
    condition     = var.max_ttl_seconds >= 0
    error_message = "max_ttl_seconds must not be negative."
  }
}

variable "forwarded_headers" {
  description = "Viewer headers sent to the gateway on cacheable paths (not part of the cache key). Authorization is refused."
  type        = list(string)
  default     = ["X-Api-Key", "Regatta-Tenant", "Regatta-Timeout-Ms", "X-Request-Id", "Traceparent", "Accept", "Content-Type"]

  validation {
    condition     = !contains([for h in var.forwarded_headers : lower(h)], "authorization")
    error_message = "Authorization must never reach a cacheable path: CloudFront would have to put it in the cache key."
  }
}

variable "error_codes_not_cached" {
  description = "Origin status codes CloudFront must not keep beyond what the origin's headers allow."
  type        = list(number)
  default     = [400, 403, 404, 405, 500, 502, 503, 504]
}

variable "origin_read_timeout_seconds" {
  description = "How long CloudFront waits for the gateway's first byte (the gateway's longest route deadline plus margin)."
  type        = number
  default     = 30
}

variable "origin_verify_secret" {
  description = "Value of the X-Origin-Verify header sent to the origin, so its load balancer can refuse requests that bypass CloudFront."
  type        = string
  default     = null
  sensitive   = true
}

variable "web_acl_id" {
  description = "ARN of a WAFv2 web ACL (scope CLOUDFRONT) to attach, or null."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags on the distribution."
  type        = map(string)
  default     = {}
}
