using System.Globalization;
using EmailPlatform.Resilience.Tests.Support;
using EmailPlatform.ServiceDefaults.Messaging;
using EmailPlatform.Testing;
using Npgsql;
using SmtpServer.Protocol;
using Xunit.Abstractions;

namespace EmailPlatform.Resilience.Tests.Faults;

/// <summary>
/// The persisted retry schedule (issue 4 §3) across a restart of the worker, the broker or the store. The relay answers
/// 451 to the first attempt of every email, so each recipient is deferred with its next attempt <see cref="RetryAfter"/>
/// away; the worker, the broker or the store is restarted while they wait; each must then be delivered once, by its
/// second attempt, at its due time. The relay takes mail again before the restart, so an attempt made before its time
/// (a command held back on the broker and redelivered, a schedule rebuilt at start) would be delivered and show up early.
/// While they wait the lanes hold no message, ready or unacknowledged: the schedule lives in the store, not the broker.
/// </summary>
[Trait("Category", "Fault")]
public sealed class DeferredRetryRestartTests(ITestOutputHelper output)
{
    private const int Emails = 20;

    /// <summary>
    /// The wait before the second attempt: long enough for the lanes to be looked at (<c>rabbitmqctl</c> took 20 s once on
    /// a loaded CI machine) and for the restart to begin and end while it runs.
    /// </summary>
    private static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(40);

    /// <summary>How old a quorum queue's counts may be (RabbitMQ's <c>quorum_tick_interval</c>, 5 s), and a second.</summary>
    private static readonly TimeSpan QuorumTick = TimeSpan.FromSeconds(6);

    /// <summary>How long before the first retry is due the lanes must have been seen empty, so the restart begins before it.</summary>
    private static readonly TimeSpan RestartLead = TimeSpan.FromSeconds(10);

    /// <summary>How long the worker, the broker or the store stays away before it is started again.</summary>
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(3);

    /// <summary>
    /// How late a retry may reach the relay after its due time (or after the restart, if that ended later): the
    /// scheduler's poll (1 s here) and a worker reconnecting, but not a recovery path (a hand-back presumed lost after
    /// <c>Delivery:RequeueAfter</c>, 20 s here) standing in for the schedule.
    /// </summary>
    private static readonly TimeSpan Lateness = TimeSpan.FromSeconds(10);

    private static readonly Dictionary<string, string?> Schedule = new()
    {
        ["Delivery__RetrySchedule__0"] = RetryAfter.ToString("c", CultureInfo.InvariantCulture),
    };

    [Fact]
    public async Task DeferredRecipientsOutliveTheirWorkerKilledWhileTheyWaitAndAreDeliveredOnceAtTheirDueTime()
    {
        await using var run = await FaultRun.StartAsync(output, environment: Schedule);
        await DeferRestartAndDeliverAsync(run, "worker kill -9", async () =>
        {
            await run.Stack.KillWorkerAsync(0);
            await Task.Delay(Outage);
            await run.Stack.StartWorkerAsync(0);
        });
    }

    /// <summary>The node has no plugins: the schedule does not need the delayed-message one.</summary>
    [Fact]
    public async Task DeferredRecipientsOutliveARabbitMqRestartWhileTheyWaitAndAreDeliveredOnceAtTheirDueTime()
    {
        await using var broker = await DedicatedRabbitMq.StartAsync();
        await using var run = await FaultRun.StartAsync(output, rabbitMq: broker.Uri, listQueues: broker.ListQueuesAsync, environment: Schedule);
        await DeferRestartAndDeliverAsync(run, "RabbitMQ restart", async () =>
        {
            await broker.StopAsync();
            await Task.Delay(Outage);
            await broker.StartAgainAsync();
        });
    }

    [Fact]
    public async Task DeferredRecipientsOutliveAPostgreSqlRestartWhileTheyWaitAndAreDeliveredOnceAtTheirDueTime()
    {
        await using var store = await DedicatedPostgres.StartAsync();
        await using var run = await FaultRun.StartAsync(output, postgresAdmin: store.AdminConnectionString, environment: Schedule);
        await DeferRestartAndDeliverAsync(run, "PostgreSQL restart", async () =>
        {
            await store.StopAsync();
            await Task.Delay(Outage);
            await store.StartAgainAsync();

            // This process's pooled connections to the store died with it.
            using var pooled = new NpgsqlConnection(run.Stack.ConnectionString);
            NpgsqlConnection.ClearPool(pooled);
        });
    }

    private async Task DeferRestartAndDeliverAsync(FaultRun run, string restartKind, Func<Task> restart)
    {
        var relay = run.Relay.Server!;
        relay.DataReply = new SmtpResponse((SmtpReplyCode)451, "4.3.0 Temporary local problem, try later");
        var sender = run.Send(Emails, rate: 40);
        await sender.Completion;
        var accepted = sender.Accepted.ToList();
        Assert.True(accepted.Count == Emails, $"{accepted.Count} of {Emails} emails accepted; refused: {string.Join(", ", sender.Refused)}");

        var waiting = await Eventually.GetAsync(
            () => Ledger.ReadAsync(run.Stack.ConnectionString, accepted),
            ledger => ledger.Rows.Count == Emails && ledger.Rows.All(r => r.State == "deferred"),
            FaultScale.Settle,
            "every recipient deferred by its first attempt");
        Assert.All(waiting.Rows, r => Assert.Equal(1, r.Attempt));
        Assert.Equal(0, run.Relay.ReceivedCount);
        var firstDue = waiting.Rows.Min(r => r.DueAt!.Value);
        await AssertLanesEmptyWhileWaitingAsync(run, firstDue);

        relay.DataReply = null;
        var started = DateTime.UtcNow;
        Assert.True(started < firstDue, $"the first retry was due at {firstDue:O}, before the {restartKind} began ({started:O}): it tested nothing");
        await restart();
        var restarted = DateTime.UtcNow;
        output.WriteLine($"{restartKind} took {(restarted - started).TotalSeconds:F1} s and ended {(firstDue - restarted).TotalSeconds:F1} s before the first retry was due");

        // Unless the restart ran into the due time, the recipients still wait as they were: neither lost nor tried early.
        var after = await Ledger.ReadAsync(run.Stack.ConnectionString, accepted);
        if (DateTime.UtcNow < firstDue - TimeSpan.FromSeconds(1))
        {
            Assert.Equal(waiting.ToString(), after.ToString());
        }

        await run.SettleAsync($"{restartKind} while deferred", sender, allowedDuplicates: 0, expectDeferrals: true);

        var delivered = await Ledger.ReadAsync(run.Stack.ConnectionString, accepted);
        var dueAt = waiting.Rows.ToDictionary(r => r.EmailId, r => r.DueAt!.Value);
        var lateness = delivered.Rows.Select(r => r.OutcomeAt!.Value - OnTime(r)).ToList();
        output.WriteLine($"delivered {lateness.Min().TotalSeconds:F1} to {lateness.Max().TotalSeconds:F1} s after their due time (or the restart's end, if later)");
        foreach (var row in delivered.Rows)
        {
            Assert.True(row.State == "delivered" && row.Attempt == 2, $"not delivered by the second attempt: {row}");
            Assert.True(row.OutcomeAt >= dueAt[row.EmailId], $"delivered before its due time {dueAt[row.EmailId]:O}: {row}");
            Assert.True(row.OutcomeAt <= OnTime(row) + Lateness,
                $"delivered more than {Lateness.TotalSeconds} s after its due time {dueAt[row.EmailId]:O} (restart ended {restarted:O}): {row}");
        }

        // What the status service recorded: the deferral by attempt 1 with its next attempt, the delivery by attempt 2.
        var events = await StatusEventsAsync(run.Stack.ConnectionString, accepted);
        Assert.Equal(Enumerable.Repeat("email.deferred 1 next, email.delivered 2", Emails), events.Values);

        // Its due time, or the end of a restart that ran past it.
        DateTime OnTime(LedgerRow row) => dueAt[row.EmailId] > restarted ? dueAt[row.EmailId] : restarted;
    }

    /// <summary>
    /// Waits, while the recipients wait for <paramref name="due"/>, until every lane's queue has a consumer (the worker)
    /// and holds nothing, ready or unacknowledged: no deferred command is held on the broker. The counts of a quorum
    /// queue are a few seconds old (RabbitMQ refreshes them every <c>quorum_tick_interval</c>, 5 s), so they are looked
    /// at until <see cref="RestartLead"/> before the due time, and only from a tick after the deferrals were seen (an
    /// earlier listing may show the lanes as they were before the sends); a worker that held its commands until their
    /// next attempt would show them unacknowledged until after it. A listing counts from the moment it was returned,
    /// when what it shows had certainly been the case.
    /// </summary>
    private async Task AssertLanesEmptyWhileWaitingAsync(FaultRun run, DateTime due)
    {
        await Task.Delay(QuorumTick);
        var lanes = await Eventually.GetAsync(
            async () =>
            {
                var listing = await run.ListQueuesAsync();
                return new Lanes(DateTime.UtcNow, listing);
            },
            l => l.Empty,
            due - RestartLead - DateTime.UtcNow,
            "the lanes empty (ready, unacknowledged, consumers) before the first retry was due");
        Assert.True(lanes.At < due,
            $"the lanes were seen empty only at {lanes.At:O}, after the first retry was due ({due:O}):{Environment.NewLine}{lanes}");
        output.WriteLine($"lanes empty {(due - lanes.At).TotalSeconds:F1} s before the first retry was due");
    }

    /// <summary>Each email's deferrals and deliveries as the status service recorded them: "type attempt", and "next" when the event has a next attempt.</summary>
    private static async Task<IReadOnlyDictionary<Guid, string>> StatusEventsAsync(string connectionString, IReadOnlyList<Guid> ids)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT email_id, type, attempt, next_attempt_at FROM events WHERE email_id = ANY(@ids) AND type IN ('email.deferred', 'email.delivered') " +
            "ORDER BY email_id, occurred_at", connection);
        command.Parameters.AddWithValue("ids", ids.ToArray());
        await using var reader = await command.ExecuteReaderAsync();
        var events = ids.ToDictionary(id => id, _ => new List<string>());
        while (await reader.ReadAsync())
        {
            events[reader.GetGuid(0)].Add(string.Create(CultureInfo.InvariantCulture, $"{reader.GetString(1)} {reader.GetInt32(2)}{(reader.IsDBNull(3) ? "" : " next")}"));
        }

        return events.ToDictionary(e => e.Key, e => string.Join(", ", e.Value));
    }

    /// <summary>The broker's queue listing (name, ready, unacknowledged, consumers per line) as returned at <paramref name="At"/>.</summary>
    private sealed record Lanes(DateTime At, string Listing)
    {
        public bool Empty
        {
            get
            {
                // "name ready unacknowledged consumers", after a header line: each lane with nothing ready, nothing
                // unacknowledged, and a consumer.
                var lanes = Listing.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(line => line.Split('\t', ' '))
                    .Where(f => f.Length == 4 && DeliveryLanes.All.Contains(f[0]))
                    .ToList();
                return lanes.Count == DeliveryLanes.All.Count && lanes.All(f => f[1] == "0" && f[2] == "0" && f[3] != "0");
            }
        }

        public override string ToString() => Listing;
    }

    /// <summary>The worker's delivery records of the emails (one recipient each).</summary>
    private sealed record Ledger(IReadOnlyList<LedgerRow> Rows)
    {
        public static async Task<Ledger> ReadAsync(string connectionString, IReadOnlyList<Guid> ids)
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                "SELECT email_id, state, attempt, due_at, outcome_at FROM deliveries WHERE email_id = ANY(@ids) ORDER BY email_id", connection);
            command.Parameters.AddWithValue("ids", ids.ToArray());
            await using var reader = await command.ExecuteReaderAsync();
            var rows = new List<LedgerRow>();
            while (await reader.ReadAsync())
            {
                rows.Add(new LedgerRow(reader.GetGuid(0), reader.GetString(1), reader.GetInt32(2),
                    reader.IsDBNull(3) ? null : reader.GetDateTime(3), reader.IsDBNull(4) ? null : reader.GetDateTime(4)));
            }

            return new Ledger(rows);
        }

        public override string ToString() =>
            $"{Rows.Count} records: {string.Join(", ", Rows.GroupBy(r => $"{r.State} (attempt {r.Attempt})").Select(g => $"{g.Key} {g.Count()}"))}; " +
            $"due {string.Join(" ", Rows.Select(r => r.DueAt?.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture) ?? "-"))}";
    }

    private sealed record LedgerRow(Guid EmailId, string State, int Attempt, DateTime? DueAt, DateTime? OutcomeAt);
}
