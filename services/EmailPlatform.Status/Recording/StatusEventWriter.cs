using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using EmailPlatform.ServiceDefaults.Storage;
using Microsoft.Extensions.Options;
using Npgsql;

namespace EmailPlatform.Status.Recording;

/// <summary>
/// The single writer of a replica: consumers hand it their events and wait, and it records whatever has gathered as
/// one batch in one transaction (<see cref="StatusRecorder"/>), then releases the waiting consumers so their messages
/// are acknowledged only after the commit. A batch that fails for any reason but the store being out of reach (a
/// conflict with another replica's write, a duplicate delivery racing its twin, an event the store refuses) is recorded
/// again one event per transaction, so one bad event faults only its own message; when the store is out of reach
/// (<see cref="StoreErrors.IsUnavailable"/>, the same test the consumers' outage wait makes) the whole batch faults at
/// once and the consumers' retry policy takes over. An event that fails in a transaction of its own for any other
/// reason than an unreachable store or a conflict faults as <see cref="UnrecordableEventException"/>, which that policy
/// does not retry: retried, it would only fail again, each time with the batch it joined.
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
    public Task RecordAsync(object message, CancellationToken cancellationToken) => RecordAsync([message], cancellationToken);

    /// <summary>
    /// Completes once <paramref name="messages"/> (the events one bus message carries, in their order) are committed, all
    /// in the same transaction, or were already recorded; throws if they could not be.
    /// </summary>
    public async Task RecordAsync(IReadOnlyList<object> messages, CancellationToken cancellationToken)
    {
        // Captured here, per message: the batch that records it runs outside every message's trace.
        var current = Activity.Current;
        var traceId = current?.TraceId.ToHexString();
        var traceParent = current is { IdFormat: ActivityIdFormat.W3C } ? current.Id : null;
        var pending = new Pending([.. messages.Select(m => new StatusEvent(m, traceId, traceParent))], current?.Context);
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
        var batch = new Batch(_options.MaxBatchSize);
        while (await reader.WaitToReadAsync())
        {
            batch.Drain(reader);
            if (!batch.IsFull && _options.MaxBatchDelay > TimeSpan.Zero)
            {
                using var linger = new CancellationTokenSource(_options.MaxBatchDelay);
                try
                {
                    while (!batch.IsFull && await reader.WaitToReadAsync(linger.Token))
                    {
                        batch.Drain(reader);
                    }
                }
                catch (OperationCanceledException)
                {
                    // The delay is over: record what gathered.
                }
            }

            await WriteAsync(batch.Messages);
            batch.Clear();
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
        catch (Exception ex) when (batch.Count > 1 && !StoreErrors.IsUnavailable(ex))
        {
            LogBatchFailed(_logger, batch.Count, ex);
            Exception? unavailable = null;
            foreach (var pending in batch)
            {
                if (unavailable is not null)
                {
                    // The store went away during this pass: the rest would only wait for it one after another.
                    pending.Done.TrySetException(unavailable);
                    continue;
                }

                try
                {
                    await RecordAsync([pending]);
                    pending.Done.TrySetResult();
                }
                catch (Exception single)
                {
                    unavailable = StoreErrors.IsUnavailable(single) ? single : null;
                    pending.Done.TrySetException(Alone(pending, single));
                }
            }
        }
        catch (Exception ex)
        {
            foreach (var pending in batch)
            {
                pending.Done.TrySetException(batch.Count == 1 ? Alone(pending, ex) : ex);
            }
        }
    }

    /// <summary>What the consumer of an event that failed in a transaction of its own is told.</summary>
    private Exception Alone(Pending pending, Exception ex)
    {
        if (StoreErrors.IsUnavailable(ex) || MayPassAnotherTime(ex))
        {
            return ex;
        }

        var first = pending.Events[0];
        LogEventUnrecordable(_logger, first.EventId, first.EmailId, ex);
        return new UnrecordableEventException(first.EventId, ex);
    }

    private async Task RecordAsync(List<Pending> batch)
    {
        // One span for the write, linked to the trace of every message in it.
        using var activity = Source.StartActivity("status record", ActivityKind.Internal, parentContext: default,
            links: batch.Where(p => p.Context is not null).Select(p => new ActivityLink(p.Context!.Value)));
        activity?.SetTag("emailplatform.batch.size", batch.Sum(p => p.Events.Count));

        await using var scope = _scopes.CreateAsyncScope();
        var recorder = scope.ServiceProvider.GetRequiredService<StatusRecorder>();
        var recorded = await recorder.RecordAsync(batch.SelectMany(p => p.Events).ToList(), CancellationToken.None);
        _metrics.Recorded(recorded);
    }

    /// <summary>
    /// Failures that another try of the same event can get past: a conflict with another writer (a deadlock or a
    /// serialization failure, a duplicate delivery or a replica creating the same email first, a row changed since it was
    /// read, an email created after the batch's locks), a statement the server cancelled (its statement_timeout, or an
    /// administrator's pg_cancel_backend: nothing about the event) or an error Npgsql calls transient that is not an
    /// outage (a lock or object busy, an I/O error). Not any <see cref="DbUpdateException"/>: one around a broken connection is an outage
    /// (<see cref="StoreErrors.IsUnavailable"/>, tested first), and one around a check or foreign key violation fails the
    /// same way every time.
    /// </summary>
    internal static bool MayPassAnotherTime(Exception ex) =>
        StoreErrors.IsDeadlockOrSerializationFailure(ex)
        || Chain(ex).Any(e => e is EmailCreatedMeanwhileException or DbUpdateConcurrencyException or NpgsqlException { IsTransient: true }
            || e is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.QueryCanceled }
            || (e is DbUpdateException update && StoreErrors.IsUniqueViolation(update)));

    private static IEnumerable<Exception> Chain(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            yield return e;
        }
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "A batch of {Count} events failed; recording them one at a time")]
    private static partial void LogBatchFailed(ILogger logger, int count, Exception exception);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Error, Message = "Event {EventId} of email {EmailId} cannot be recorded; it goes to the error queue without retries")]
    private static partial void LogEventUnrecordable(ILogger logger, Guid eventId, Guid emailId, Exception exception);

    /// <summary>
    /// What the loop gathers for one transaction: up to <see cref="RecordingOptions.MaxBatchSize"/> events, whole messages
    /// only (a message larger than that alone still makes a batch).
    /// </summary>
    private sealed class Batch(int maxEvents)
    {
        private int _events;

        public List<Pending> Messages { get; } = new(maxEvents);

        /// <summary>Nothing more fits: the events reached the limit, or the next message's would pass it.</summary>
        public bool IsFull { get; private set; }

        public void Drain(ChannelReader<Pending> reader)
        {
            while (!IsFull && reader.TryPeek(out var next))
            {
                if (Messages.Count > 0 && _events + next.Events.Count > maxEvents)
                {
                    IsFull = true;
                    return;
                }

                reader.TryRead(out _);
                Messages.Add(next);
                _events += next.Events.Count;
                IsFull = _events >= maxEvents;
            }
        }

        public void Clear()
        {
            Messages.Clear();
            _events = 0;
            IsFull = false;
        }
    }

    /// <summary>The events of one bus message, recorded in one transaction whatever batch they join.</summary>
    private sealed record Pending(IReadOnlyList<StatusEvent> Events, ActivityContext? Context)
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <summary>
/// An event that failed in a transaction of its own, for a reason other than an unreachable store or a conflict (a value
/// the store refuses, a message the recorder cannot apply): trying it again would fail the same way, so the consumers'
/// retry policy lets it fault to the error queue at once. The original error is the inner exception.
/// </summary>
public sealed class UnrecordableEventException(Guid eventId, Exception inner)
    : Exception($"Event {eventId} cannot be recorded: {inner.Message}", inner)
{
    public Guid EventId { get; } = eventId;
}
