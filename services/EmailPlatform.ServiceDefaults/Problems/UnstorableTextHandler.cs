using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Npgsql;

namespace EmailPlatform.ServiceDefaults.Problems;

/// <summary>
/// A request whose text PostgreSQL refuses to take (NUL, U+0000, in a query filter, a reason, a URL …: SQLSTATE 22021,
/// or 22P05) answers 400, not 500: it is the client's input, and the statement that refused it changed nothing. The
/// fields most exposed are checked before they reach the store; this is the net under the others.
/// </summary>
internal sealed class UnstorableTextHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (!IsUnstorableText(exception))
        {
            return false;
        }

        httpContext.Response.StatusCode = StatusCodes.Status400BadRequest;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails = ApiProblems.Create(StatusCodes.Status400BadRequest, ApiProblems.ValidationError,
                "Invalid request.", "The request holds a character that cannot be stored, such as NUL (U+0000). Nothing was changed."),
        });
    }

    internal static bool IsUnstorableText(Exception? exception)
    {
        for (; exception is not null; exception = exception.InnerException)
        {
            if (exception is PostgresException { SqlState: PostgresErrorCodes.CharacterNotInRepertoire or PostgresErrorCodes.UntranslatableCharacter })
            {
                return true;
            }
        }

        return false;
    }
}
