using System.Globalization;
using EmailPlatform.ServiceDefaults.Problems;
using EmailPlatform.ServiceDefaults.Suppressions;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;

namespace EmailPlatform.Status.Suppressions;

/// <summary>
/// <c>GET /v1/suppressions/filter</c>: the suppression list as a <see cref="SuppressionFilter"/>, for the delivery
/// workers, which then ask about an address (<c>GET /v1/suppressions/{address}</c>) only when the filter may hold it.
/// <c>max_age</c> (seconds, 1 to 3600; default 15) is how old a filter the caller takes; the answer says how old it is in
/// <c>Suppression-Filter-Age</c> (milliseconds since it was built, so the caller needs no clock in common with this
/// service) and carries an entity tag: with <c>If-None-Match</c> an unchanged filter is <c>304</c>, without its bytes.
/// </summary>
public static class SuppressionFilterEndpoint
{
    public const string AgeHeader = "Suppression-Filter-Age";

    private const int DefaultMaxAgeSeconds = 15;
    private const int MaxMaxAgeSeconds = 3600;

    public static RouteHandlerBuilder MapSuppressionFilter(this RouteGroupBuilder suppressions) =>
        suppressions.MapGet("/filter", GetAsync).WithName("GetSuppressionFilter")
            .WithSummary("The suppression list as a Bloom filter (application/vnd.emailplatform.suppression-filter), for the delivery workers.")
            .Produces(StatusCodes.Status200OK, contentType: SuppressionFilter.MediaType)
            .Produces(StatusCodes.Status304NotModified);

    internal static async Task<Results<FileContentHttpResult, StatusCodeHttpResult, ValidationProblem>> GetAsync(
        HttpContext context, SuppressionFilters filters, TimeProvider clock, CancellationToken cancellationToken,
        [Microsoft.AspNetCore.Mvc.FromQuery(Name = "max_age")] string? maxAge = null)
    {
        var seconds = DefaultMaxAgeSeconds;
        if (maxAge is not null && (!int.TryParse(maxAge, NumberStyles.None, CultureInfo.InvariantCulture, out seconds) || seconds is < 1 or > MaxMaxAgeSeconds))
        {
            return ApiProblems.Validation(new Dictionary<string, string[]>
            {
                ["max_age"] = [$"max_age is a whole number of seconds from 1 to {MaxMaxAgeSeconds}."],
            });
        }

        var filter = await filters.GetAsync(TimeSpan.FromSeconds(seconds), cancellationToken);
        var headers = context.Response.Headers;
        headers[AgeHeader] = Math.Max(0, (long)(clock.GetUtcNow() - filter.BuiltAt).TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
        headers.ETag = filter.ETag;
        headers.CacheControl = "no-cache";
        if (context.Request.GetTypedHeaders().IfNoneMatch is { Count: > 0 } tags && tags.Any(t => t.Tag == filter.ETag || t.Equals(EntityTagHeaderValue.Any)))
        {
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        }

        return TypedResults.File(filter.Bytes, SuppressionFilter.MediaType);
    }
}
