using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace EmailPlatform.Status.Recording;

/// <summary>
/// The single writer of a replica: consumers hand it their events and wait, and it records whatever has gathered as
/// one batch in one transaction (<see cref="StatusRecorder"/>), then releases the waiting consumers so their messages
/// are acknowledged only after the commit. A batch that fails for any reason but the store being out of reach (a
/// conflict with another replica's write, a duplicate delivery racing its twin, an event the store refuses) is recorded
/// again one event per transaction, so one bad event faults only its own message; when the store is out of reach the
/// whole batch faults and the consumers' retry policy takes over.
/// </summary>
public sealed partial class StatusEventWriter : IAsyncDisposable
{
    private static readonly ActivitySource Source = new(RecordingMetrics.MeterName);

    private readonly Channel<Pending> _channel;
    private readonly IServiceScopeFactory _scopes;
    private readonly RecordingMetrics _metrics;
    private readonly RecordingOptions _options;
    private readonly ILogger<StatusEventWriter> _logger;
    private readonly Task _loop;

    public StatusEventWriter(IServiceScopeFactory scopes, RecordingMetrics metrics, IOptions<RecordingOptions> options, ILogger<StatusEventWriter> logger)
    {
        _scopes = scopes;
        _metrics = metrics;
        _options = options.Value;
        _logger = logger;
        // Bounded only as a backstop: the consumers' concurrency limit is what really bounds the events in flight.
        _channel = Channel.CreateBounded<Pending>(new BoundedChannelOptions(Math.Max(_options.MaxBatchSize, _options.ConcurrentMessageLimit) * 4)
        {
            SingleReader = true,
        });
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Completes once <paramref name="message"/> is committed (or was already recorded); throws if it could not be.</summary>
    public async Task RecordAsync(object message, CancellationToken cancellationToken)
    {
        // Captured here, per message: the batch that records it runs outside every message's trace.
        var current = Activity.Current;
        var traceParent = current is { IdFormat: ActivityIdFormat.W3C } ? current.Id : null;
        var pending = new Pending(new StatusEvent(message, current?.TraceId.ToHexString(), traceParent), current?.Context);
        await _channel.Writer.WriteAsync(pending, cancellationToken);
        await pending.Done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Records what is still queued, then stops (after the bus has stopped, when the container is disposed).</summary>
    public async ValueTask DisposeAsync()
    {
        _channel.Writer.TryComplete();
        await _loop;
    }

    private async Task RunAsync()
    {
        // The loop outlives the consume that happened to start it: its spans must not join that message's trace.
        Activity.Current = null;
        var reader = _channel.Reader;
        var batch = new List<Pending>(_options.MaxBatchSize);
        while (await reader.WaitToReadAsync())
        {
            Drain(reader, batch);
            if (batch.Count < _options.MaxBatchSize && _options.MaxBatchDelay > TimeSpan.Zero)
            {
                using var linger = new CancellationTokenSource(_options.MaxBatchDelay);
                try
                {
                    while (batch.Count < _options.MaxBatchSize && await reader.WaitToReadAsync(linger.Token))
                    {
                        Drain(reader, batch);
                    }
                }
                catch (OperationCanceledException)
                {
                    // The delay is over: record what gathered.
                }
            }

            await WriteAsync(batch);
            batch.Clear();
        }
    }

    private void Drain(ChannelReader<Pending> reader, List<Pending> batch)
    {
        while (batch.Count < _options.MaxBatchSize && reader.TryRead(out var pending))
        {
            batch.Add(pending);
        }
    }

    private async Task WriteAsync(List<Pending> batch)
    {
        try
        {
            await RecordAsync(batch);
            foreach (var pending in batch)
            {
                pending.Done.TrySetResult();
            }
        }
        catch (Exception ex) when (batch.Count > 1 && !IsStoreUnavailable(ex))
        {
            LogBatchFailed(_logger, batch.Count, ex);
            foreach (var pending in batch)
            {
                try
                {
                    await RecordAsync([pending]);
                    pending.Done.TrySetResult();
                }
                catch (Exception single)
                {
                    pending.Done.TrySetException(single);
                }
            }
        }
        catch (Exception ex)
        {
            foreach (var pending in batch)
            {
                pending.Done.TrySetException(ex);
            }
        }
    }

    private async Task RecordAsync(List<Pending> batch)
    {
        // One span for the write, linked to the trace of every message in it.
        using var activity = Source.StartActivity("status record", ActivityKind.Internal, parentContext: default,
            links: batch.Where(p => p.Context is not null).Select(p => new ActivityLink(p.Context!.Value)));
        activity?.SetTag("emailplatform.batch.size", batch.Count);

        await using var scope = _scopes.CreateAsyncScope();
        var recorder = scope.ServiceProvider.GetRequiredService<StatusRecorder>();
        var recorded = await recorder.RecordAsync(batch.Select(p => p.Event).ToList(), CancellationToken.None);
        _metrics.Recorded(recorded);
    }

    /// <summary>
    /// The store could not be reached or is not taking work (connection refused or broken, timeouts, too many
    /// connections, shutting down): recording the events one at a time would only fail as many times.
    /// </summary>
    internal static bool IsStoreUnavailable(Exception ex) =>
        !IsConflict(ex) && Chain(ex).Any(e => e is NpgsqlException { IsTransient: true } or TimeoutException);

    /// <summary>
    /// An event the store refuses however often it is tried (a data exception, class 22: a NUL character in a text,
    /// a value out of range): retrying cannot help, so it goes to the error queue at once.
    /// </summary>
    internal static bool IsBadEvent(Exception ex) =>
        Chain(ex).Any(e => e is PostgresException { SqlState: ['2', '2', ..] });

    /// <summary>Failures that another try, with fewer events at once, can get past.</summary>
    private static bool IsConflict(Exception ex) =>
        Chain(ex).Any(e => e is DbUpdateException
            || e is PostgresException { SqlState: PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.UniqueViolation });

    private static IEnumerable<Exception> Chain(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            yield return e;
        }
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "A batch of {Count} events failed; recording them one at a time")]
    private static partial void LogBatchFailed(ILogger logger, int count, Exception exception);

    private sealed record Pending(StatusEvent Event, ActivityContext? Context)
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
