using System.Diagnostics;
using System.Globalization;
using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.Testing;
using MimeKit;
using MimeKit.Utils;
using Npgsql;
using Xunit.Abstractions;

namespace EmailPlatform.Delivery.Tests.Claims;

/// <summary>
/// A busy delivery worker process stopped with SIGTERM, as Kubernetes stops a pod, on a real RabbitMQ and PostgreSQL and a
/// slow relay over a socket, and a second worker process started after it: what the README's account of a worker's stop
/// (Helm) promises. <see cref="ShutdownTests"/> covers the same paths in-process, with the shutdown played by hand.
/// </summary>
public sealed class WorkerSigtermTests(ITestOutputHelper output)
{
    /// <summary>
    /// The least <c>Shutdown:Timeout</c> there is: a consume in flight gets 5 s before it is cancelled, the bus has
    /// stopped by 10 s, and the process has exited by 15 s.
    /// </summary>
    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(15);

    /// <summary>How long the relay takes to answer the final dot.</summary>
    private static readonly TimeSpan ReplyDelay = TimeSpan.FromSeconds(1.5);

    /// <summary>Connections to the relay; the lanes' defaults then run 16 consumes at once and prefetch 32.</summary>
    private const int Connections = 4;

    private const int Emails = 24;

    /// <summary>Transactions the relay answers before the SIGTERM: the worker is well under way when it comes.</summary>
    private const int AnsweredBeforeSigterm = 8;

    /// <summary>The transactions begun before the SIGTERM: one more on each connection, in flight when it comes.</summary>
    private const int BegunBeforeSigterm = AnsweredBeforeSigterm + Connections;

    [Fact]
    public async Task BusyWorkerGivenSigtermFinishesItsTransactionsStartsNoOtherExitsWithinItsTimeoutAndTheNextWorkerSendsTheRest()
    {
        await using var relay = await ScriptedSmtpServer.StartAsync();
        var arrived = 0;
        var everyConnectionInATransaction = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sigtermSent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        relay.BeforeDataReply = async () =>
        {
            // Past the first few, the relay holds its answer to the final dot until the SIGTERM has been sent: once one
            // transaction is held on every connection, none can begin before the worker has the signal, and all of those
            // are in flight when it does. Each answer then takes ReplyDelay more.
            var n = Interlocked.Increment(ref arrived);
            if (n > AnsweredBeforeSigterm)
            {
                if (n == BegunBeforeSigterm)
                {
                    everyConnectionInATransaction.TrySetResult();
                }

                await sigtermSent.Task;
            }

            await Task.Delay(ReplyDelay);
        };

        await using var vhost = await TemporaryVirtualHost.CreateAsync();
        await using var database = await TemporaryDatabase.CreateAsync();
        var environment = WorkerEnvironment(vhost, database, relay.Port);
        await ServiceProcess.RunToCompletionAsync("EmailPlatform.Delivery", environment, "migrate");
        await LaneQueues.DeclareAsync(vhost.Uri);
        await using var client = await LaneClient.StartAsync(vhost.Uri);

        await using var first = await ServiceProcess.StartAsync("EmailPlatform.Delivery", environment);
        var emails = Enumerable.Range(0, Emails).Select(_ => Email()).ToList();
        foreach (var email in emails)
        {
            await client.SendAsync(email);
        }

        await WithLogsAsync(first, () => everyConnectionInATransaction.Task.WaitAsync(TimeSpan.FromSeconds(60)), "a transaction held on every connection");
        var begun = relay.MailFrom.ToList();
        Assert.True(begun.Count == BegunBeforeSigterm, $"{begun.Count} transactions begun before the SIGTERM, {BegunBeforeSigterm} expected (one in flight per connection)");

        var stopping = Stopwatch.StartNew();
        await first.TerminateAsync();
        sigtermSent.SetResult();
        var exited = await first.WaitForExitAsync(ShutdownTimeout + TimeSpan.FromSeconds(15));
        stopping.Stop();
        var heldForShutdown = first.Output.Split('\n').Count(line => line.Contains("got its connection while the worker is stopping", StringComparison.Ordinal));
        output.WriteLine($"worker 1: SIGTERM with {begun.Count} transactions begun ({Connections} in flight); exited after {stopping.Elapsed.TotalSeconds:F1} s " +
            $"(Shutdown:Timeout {ShutdownTimeout.TotalSeconds} s) with code {(exited ? first.ExitCode.ToString(CultureInfo.InvariantCulture) : "none yet")}; " +
            $"{heldForShutdown} attempt(s) held back at their connection");

        // (1) A clean exit within Shutdown:Timeout, so within any grace period longer than it.
        Assert.True(exited, $"worker 1 still ran {stopping.Elapsed} after its SIGTERM:{Environment.NewLine}{Tail(first)}");
        Assert.True(first.ExitCode == 0, $"worker 1 exited with {first.ExitCode}:{Environment.NewLine}{Tail(first)}");
        Assert.True(stopping.Elapsed <= ShutdownTimeout, $"worker 1 took {stopping.Elapsed} to exit, longer than Shutdown:Timeout ({ShutdownTimeout}):{Environment.NewLine}{Tail(first)}");

        // (3) No transaction began after the SIGTERM, though connections came free 1.5 s after it and commands waited.
        var afterSigterm = relay.MailFrom.Skip(begun.Count).ToList();
        Assert.True(afterSigterm.Count == 0, $"worker 1 began {afterSigterm.Count} transaction(s) after its SIGTERM: {string.Join(", ", afterSigterm)}");

        // (2) The transactions in flight finished: the relay has every message begun, and each one's outcome is recorded.
        var sentByFirst = begun.Select(EmailIdOf).ToHashSet();
        var atRelay = relay.Received.Select(m => EmailIdOf(m.MailFrom)).ToList();
        var unfinished = sentByFirst.Except(atRelay).ToList();
        Assert.True(unfinished.Count == 0,
            $"worker 1 exited with {unfinished.Count} of its transactions unfinished (cut off): {string.Join(", ", unfinished)}{Environment.NewLine}{Tail(first)}");
        Assert.Equal(sentByFirst.Order(), atRelay.Order());
        var afterFirst = await LedgerAsync(database);
        output.WriteLine($"after worker 1: {afterFirst}");
        foreach (var id in sentByFirst)
        {
            Assert.True(afterFirst.Rows.TryGetValue(id, out var row) && row is { State: "delivered", Attempt: 1, Claimed: false },
                $"email {id}, at the relay, is not recorded delivered on its first attempt: {afterFirst}{Environment.NewLine}{Tail(first)}");
        }

        // (4) The rest went back to their queue unacknowledged, their claims handed back: nothing waits for a lease.
        Assert.All(afterFirst.Rows.Where(r => !sentByFirst.Contains(r.Key)), r => Assert.Equal(("queued", false), (r.Value.State, r.Value.Claimed)));
        var lanes = await WithLogsAsync(first, () => Eventually.GetAsync(() => QueuesAsync(vhost),
            q => q.GetValueOrDefault("send-email-normal") == (Emails - BegunBeforeSigterm, 0), TimeSpan.FromSeconds(10),
            $"the {Emails - BegunBeforeSigterm} emails not sent ready again in their lane"), "the lane's messages");
        Assert.DoesNotContain(lanes, q => q.Key.EndsWith("_error", StringComparison.Ordinal) && q.Value != (0, 0));

        // (5) A second worker sends the rest: every email delivered, each exactly once at the relay, nothing failed.
        await using var second = await ServiceProcess.StartAsync("EmailPlatform.Delivery", environment);
        var settled = await WithLogsAsync(second, () => Eventually.GetAsync(() => LedgerAsync(database),
            l => l.Rows.Count == Emails && l.Rows.Values.All(r => r.State is "delivered" or "bounced" or "failed" or "suppressed"),
            TimeSpan.FromSeconds(60), "every email final after worker 2 started"), "worker 2 to finish");
        output.WriteLine($"after worker 2: {settled}");
        Assert.Equal(Emails, settled.Rows.Values.Count(r => r.State == "delivered"));

        var received = relay.Received.GroupBy(m => MessageId(m.Raw), StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var duplicates = received.Values.Sum(n => n - 1);
        output.WriteLine($"at the relay: {relay.Received.Count} messages, {received.Count} Message-IDs, {duplicates} duplicate(s); {relay.MailFrom.Count} transactions begun");
        Assert.Equal(emails.Select(e => e.MessageId).Order(StringComparer.Ordinal), received.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(0, duplicates);

        // What the status service would record: one delivered event (however often re-published) per email, nothing else.
        var events = await Eventually.GetAsync(() => Task.FromResult(client.Outcomes.ToList()),
            o => o.OfType<EmailDelivered>().Select(d => d.EmailId).Distinct().Count() == Emails, TimeSpan.FromSeconds(30), "a delivered event for every email");
        Assert.DoesNotContain(events, e => e is not EmailDelivered);
        Assert.All(events.GroupBy(e => e.EmailId), g => Assert.Single(g.Select(e => e.EventId).Distinct()));
    }

    private static Dictionary<string, string?> WorkerEnvironment(TemporaryVirtualHost vhost, TemporaryDatabase database, int relayPort) => new()
    {
        ["ConnectionStrings__Postgres"] = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Pooling = true, MaxPoolSize = 10 }.ConnectionString,
        ["ConnectionStrings__RabbitMq"] = vhost.Uri.ToString(),
        ["Auth__BootstrapKey"] = TestInfrastructure.NewApiKey(),
        ["Delivery__Relays__0__Name"] = "slow",
        ["Delivery__Relays__0__Host"] = "127.0.0.1",
        ["Delivery__Relays__0__Port"] = relayPort.ToString(CultureInfo.InvariantCulture),
        ["Delivery__Relays__0__Security"] = "None",
        ["Delivery__Relays__0__MaxConnections"] = Connections.ToString(CultureInfo.InvariantCulture),
        ["Shutdown__Timeout"] = ShutdownTimeout.ToString("c", CultureInfo.InvariantCulture),
    };

    /// <summary>An email whose envelope sender names it, so that the relay's MAIL FROM tells which email a transaction was.</summary>
    private static SendEmail Email()
    {
        var email = TestEmails.Create();
        return email with { Envelope = email.Envelope with { MailFrom = $"bounces+{email.EmailId:N}@emailplatform.local" } };
    }

    private static Guid EmailIdOf(string mailFrom) => Guid.ParseExact(mailFrom["bounces+".Length..mailFrom.IndexOf('@', StringComparison.Ordinal)], "N");

    private static string MessageId(byte[] raw) =>
        MimeUtils.ParseMessageId(HeaderList.Load(new MemoryStream(raw))[HeaderId.MessageId] ?? "") ?? "";

    /// <summary>The worker's records of the emails' recipients (one each), read from its store.</summary>
    private static async Task<Ledger> LedgerAsync(TemporaryDatabase database)
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT email_id, state, attempt, claim_id IS NOT NULL FROM deliveries", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new Dictionary<Guid, LedgerRow>();
        while (await reader.ReadAsync())
        {
            rows[reader.GetGuid(0)] = new LedgerRow(reader.GetString(1), reader.GetInt32(2), reader.GetBoolean(3));
        }

        return new Ledger(rows);
    }

    /// <summary>Messages ready and unacknowledged per queue of the virtual host.</summary>
    private static async Task<Dictionary<string, (int Ready, int Unacknowledged)>> QueuesAsync(TemporaryVirtualHost vhost)
    {
        var lines = await Command.RunAsync("rabbitmqctl", "-q", "list_queues", "-p", vhost.Name, "--no-table-headers", "name", "messages_ready", "messages_unacknowledged");
        return lines.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split('\t'))
            .ToDictionary(f => f[0], f => (int.Parse(f[1], CultureInfo.InvariantCulture), int.Parse(f[2], CultureInfo.InvariantCulture)), StringComparer.Ordinal);
    }

    /// <summary>Runs <paramref name="wait"/>; a timeout comes with the tail of the worker's log.</summary>
    private static async Task<T> WithLogsAsync<T>(ServiceProcess worker, Func<Task<T>> wait, string what)
    {
        try
        {
            return await wait();
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"Waiting for {what}: {ex.Message}{Environment.NewLine}{Tail(worker)}", ex);
        }
    }

    private static Task WithLogsAsync(ServiceProcess worker, Func<Task> wait, string what) =>
        WithLogsAsync(worker, async () => { await wait(); return true; }, what);

    private static string Tail(ServiceProcess worker) =>
        string.Join(Environment.NewLine, worker.Output.Split(Environment.NewLine).TakeLast(80));

    private sealed record LedgerRow(string State, int Attempt, bool Claimed);

    private sealed record Ledger(IReadOnlyDictionary<Guid, LedgerRow> Rows)
    {
        public override string ToString() =>
            $"{Rows.Count} recorded: " + string.Join(", ", Rows.Values.GroupBy(r => (r.State, r.Claimed))
                .OrderBy(g => g.Key.State, StringComparer.Ordinal).Select(g => $"{g.Key.State}{(g.Key.Claimed ? " (claimed)" : "")} {g.Count()}"));
    }
}
