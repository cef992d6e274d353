using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace EmailPlatform.Status.Recording;

/// <summary>
/// The single writer of a replica: consumers hand it their events and wait, and it records whatever has gathered as
/// one batch in one transaction (<see cref="StatusRecorder"/>), then releases the waiting consumers so their messages
/// are acknowledged only after the commit. A batch that fails on a conflict (another replica's write, a duplicate
/// delivery racing its twin) is recorded again one event per transaction, so one bad event faults only its own
/// message; any other failure (the store is down) faults the whole batch and the consumers' retry policy takes over.
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
        catch (Exception ex) when (batch.Count > 1 && IsConflict(ex))
        {
            LogBatchConflict(_logger, batch.Count, ex);
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

    /// <summary>Failures that another try, with fewer events at once, can get past.</summary>
    private static bool IsConflict(Exception ex) =>
        ex is DbUpdateException
        || ex is PostgresException { SqlState: PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.UniqueViolation }
        || ex.InnerException is { } inner && IsConflict(inner);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "A batch of {Count} events met a write conflict; recording them one at a time")]
    private static partial void LogBatchConflict(ILogger logger, int count, Exception exception);

    private sealed record Pending(StatusEvent Event, ActivityContext? Context)
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
