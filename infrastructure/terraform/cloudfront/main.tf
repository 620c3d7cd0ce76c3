# CloudFront in front of the Regatta gateway.
#
# Two kinds of path:
# - cached_path_patterns (persisted GraphQL queries sent by GET, the APQ case): GET and HEAD
#   responses may be cached. MinTTL is 0, so the gateway's Cache-Control decides: `no-store` or
#   `private` is never kept, `public, max-age=N` is. The whole query string is in the cache key
#   (the query hash and variables live there). The Authorization header is neither in the key nor
#   forwarded (CloudFront forwards it only when it is part of the key); clients of these paths send
#   X-Api-Key, which is forwarded but not keyed, so the gateway must mark personal answers private.
# - everything else: never cached, every viewer header (Authorization included) forwarded.

locals {
  origin_id   = "${var.name}-gateway"
  all_methods = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
}

data "aws_cloudfront_cache_policy" "caching_disabled" {
  name = "Managed-CachingDisabled"
}

data "aws_cloudfront_origin_request_policy" "all_viewer_except_host" {
  name = "Managed-AllViewerExceptHostHeader"
}

resource "aws_cloudfront_cache_policy" "api_get" {
  name        = "${var.name}-api-get"
  comment     = "GET API responses: origin Cache-Control wins (MinTTL 0), query string keyed, Authorization never"
  min_ttl     = 0
  default_ttl = var.default_ttl_seconds
  max_ttl     = var.max_ttl_seconds

  parameters_in_cache_key_and_forwarded_to_origin {
    enable_accept_encoding_brotli = true
    enable_accept_encoding_gzip   = true

    cookies_config {
      cookie_behavior = "none"
    }

    headers_config {
      header_behavior = "none"
    }

    query_strings_config {
      query_string_behavior = "all"
    }
  }
}

resource "aws_cloudfront_origin_request_policy" "api_get" {
  name    = "${var.name}-api-get"
  comment = "What the gateway needs on cacheable paths, outside the cache key"

  cookies_config {
    cookie_behavior = "none"
  }

  headers_config {
    header_behavior = "whitelist"

    headers {
      items = var.forwarded_headers
    }
  }

  query_strings_config {
    query_string_behavior = "all"
  }
}

resource "aws_cloudfront_distribution" "api" {
  enabled         = true
  is_ipv6_enabled = true
  comment         = "Regatta API (${var.name})"
  price_class     = var.price_class
  aliases         = var.aliases
  http_version    = "http2and3"
  web_acl_id      = var.web_acl_id
  tags            = var.tags

  origin {
    domain_name = var.gateway_origin_domain
    origin_id   = local.origin_id

    custom_origin_config {
      http_port                = 80
      https_port               = 443
      origin_protocol_policy   = "https-only"
      origin_ssl_protocols     = ["TLSv1.2"]
      origin_read_timeout      = var.origin_read_timeout_seconds
      origin_keepalive_timeout = 60
    }

    dynamic "custom_header" {
      for_each = var.origin_verify_secret == null ? [] : [var.origin_verify_secret]

      content {
        name  = "X-Origin-Verify"
        value = custom_header.value
      }
    }
  }

  default_cache_behavior {
    target_origin_id         = local.origin_id
    viewer_protocol_policy   = "redirect-to-https"
    allowed_methods          = local.all_methods
    cached_methods           = ["GET", "HEAD"]
    compress                 = true
    cache_policy_id          = data.aws_cloudfront_cache_policy.caching_disabled.id
    origin_request_policy_id = data.aws_cloudfront_origin_request_policy.all_viewer_except_host.id
  }

  dynamic "ordered_cache_behavior" {
    for_each = var.cached_path_patterns

    content {
      path_pattern             = ordered_cache_behavior.value
      target_origin_id         = local.origin_id
      viewer_protocol_policy   = "redirect-to-https"
      allowed_methods          = local.all_methods
      cached_methods           = ["GET", "HEAD"]
      compress                 = true
      cache_policy_id          = aws_cloudfront_cache_policy.api_get.id
      origin_request_policy_id = aws_cloudfront_origin_request_policy.api_get.id
    }
  }

  # Without this CloudFront keeps error responses for 10 s whatever the origin says.
  dynamic "custom_error_response" {
    for_each = var.error_codes_not_cached

    content {
      error_code            = custom_error_response.value
      error_caching_min_ttl = 0
    }
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    acm_certificate_arn            = var.acm_certificate_arn
    cloudfront_default_certificate = var.acm_certificate_arn == null
    ssl_support_method             = var.acm_certificate_arn == null ? null : "sni-only"
    minimum_protocol_version       = var.acm_certificate_arn == null ? "TLSv1" : "TLSv1.2_2021"
  }
}
