using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace EmailPlatform.Status.Tests.Support;

/// <summary>
/// Pauses a writer once after each of the given queries (matched by a fragment of their SQL, in that order), until the
/// test has done what it wanted in between: another writer's commits can then land in a gap on every run.
/// </summary>
internal sealed class PauseAfterCommands(params string[] fragments) : DbCommandInterceptor
{
    private readonly Step[] _steps = [.. fragments.Select(f => new Step(f))];
    private int _next;

    /// <summary>Completes when the writer is paused after the query matching <paramref name="step"/>'s fragment.</summary>
    public Task Paused(int step) => _steps[step].Paused.Task;

    /// <summary>Lets the writer go on from its pause at <paramref name="step"/>.</summary>
    public void Resume(int step) => _steps[step].Resume.TrySetResult();

    public override async ValueTask<DbDataReader> ReaderExecutedAsync(
        DbCommand command, CommandExecutedEventData eventData, DbDataReader result, CancellationToken cancellationToken = default)
    {
        await PauseIfDueAsync(command, cancellationToken);
        return result;
    }

    public override async ValueTask<int> NonQueryExecutedAsync(
        DbCommand command, CommandExecutedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        await PauseIfDueAsync(command, cancellationToken);
        return result;
    }

    private async Task PauseIfDueAsync(DbCommand command, CancellationToken cancellationToken)
    {
        if (_next < _steps.Length && command.CommandText.Contains(_steps[_next].Fragment, StringComparison.Ordinal))
        {
            var step = _steps[_next++];
            step.Paused.TrySetResult();
            await step.Resume.Task.WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
        }
    }

    private sealed record Step(string Fragment)
    {
        public TaskCompletionSource Paused { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Resume { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
