using EmailPlatform.ServiceDefaults.Storage;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;

namespace EmailPlatform.ServiceDefaults.Problems;

/// <summary>
/// A request that failed because the store is unreachable answers 503 with <c>Retry-After</c>, not a 500: the
/// client did nothing wrong and may retry. Whatever it was writing was in one transaction, never committed.
/// </summary>
internal sealed class StoreUnavailableHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public const int RetryAfterSeconds = 5;

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (!StoreErrors.IsUnavailable(exception))
        {
            return false;
        }

        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        httpContext.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails = ApiProblems.Create(StatusCodes.Status503ServiceUnavailable, ApiProblems.ServiceUnavailable,
                "Service unavailable.", $"The store is unavailable. Nothing was accepted; retry in {RetryAfterSeconds} seconds."),
        });
    }
}
