using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace EmailPlatform.Status.Tests.Support;

/// <summary>Runs <paramref name="commit"/> (on another connection) once the first query of the context has been read.</summary>
internal sealed class AfterFirstQuery(Func<Task> commit) : DbCommandInterceptor
{
    public bool Ran { get; private set; }

    public override async ValueTask<DbDataReader> ReaderExecutedAsync(
        DbCommand command, CommandExecutedEventData eventData, DbDataReader result, CancellationToken cancellationToken = default)
    {
        if (!Ran)
        {
            Ran = true;
            await commit();
        }

        return result;
    }
}
