using System.Diagnostics;
using System.Text;
using EmailPlatform.Testing;
using MimeKit;
using MimeKit.Utils;
using Npgsql;
using Xunit.Abstractions;

namespace EmailPlatform.Resilience.Tests.Support;

/// <summary>
/// One fault scenario: the platform as processes delivering to a scripted relay, emails sent at a steady rate, the
/// fault injected by the test, and then the check every scenario ends with (<see cref="SettleAsync"/>).
/// </summary>
internal sealed class FaultRun : IAsyncDisposable
{
    /// <summary>
    /// Short timeouts so a fault costs seconds, not the production minutes: retries every 2 s, a claim left by a
    /// killed worker taken over after 30 s (it must outlast the longest attempt: 2 × connect + 3 × command + data timeouts).
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string?> FastRecovery = new Dictionary<string, string?>
    {
        ["Logging__LogLevel__Default"] = "Warning",
        ["Ingress__RateLimit__PermitsPerSecond"] = "100000",
        ["Delivery__RetrySchedule__0"] = "00:00:02",
        ["Delivery__RetryPollInterval"] = "00:00:01",
        ["Delivery__ConnectTimeout"] = "00:00:03",
        ["Delivery__ConnectRetries"] = "1",
        ["Delivery__CommandTimeout"] = "00:00:05",
        ["Delivery__DataTimeout"] = "00:00:05",
        ["Delivery__ClaimLease"] = "00:00:30",
        ["Delivery__RequeueAfter"] = "00:00:20",
        ["Delivery__BreakerCoolDown"] = "00:00:02",
    };

    private readonly ITestOutputHelper _output;
    private readonly List<HttpClient> _clients = [];
    private readonly Func<Task<string>> _listQueues;

    private FaultRun(ITestOutputHelper output, Relay relay, PlatformStack stack, Func<Task<string>>? listQueues)
    {
        _output = output;
        Relay = relay;
        Stack = stack;
        _listQueues = listQueues ?? (() => SharedBrokerQueuesAsync(stack.VirtualHost));
    }

    public Relay Relay { get; }

    public PlatformStack Stack { get; }

    /// <summary>The broker's queues, one per line: name, ready, unacknowledged, consumers.</summary>
    public Task<string> ListQueuesAsync() => _listQueues();

    /// <param name="environment">Settings for every service on top of <see cref="FastRecovery"/> (a key of both: this one).</param>
    /// <param name="listQueues">Lists the broker's queues for a run that does not settle (a dedicated broker's own
    /// <c>rabbitmqctl</c>); by default the shared broker's, for the stack's virtual host.</param>
    public static async Task<FaultRun> StartAsync(ITestOutputHelper output, int workers = 1, string? postgresAdmin = null, Uri? rabbitMq = null,
        Func<Task<string>>? listQueues = null, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var settings = new Dictionary<string, string?>(FastRecovery);
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        var relay = await Relay.StartAsync();
        try
        {
            var stack = await PlatformStack.CreateAsync(new PlatformStackOptions
            {
                RelayHost = "127.0.0.1",
                RelayPort = relay.Port,
                RelayConnections = 4,
                MaxPoolSize = 5,
                PostgresAdmin = postgresAdmin,
                RabbitMq = rabbitMq,
                Environment = settings,
            });
            try
            {
                await stack.StartAllAsync(workers);
                return new FaultRun(output, relay, stack, listQueues);
            }
            catch
            {
                await stack.DisposeAsync();
                throw;
            }
        }
        catch
        {
            await relay.DisposeAsync();
            throw;
        }
    }

    public Sender Send(int count, double rate)
    {
        var client = Stack.CreateClient();
        _clients.Add(client);
        return Sender.Start(client, count, rate);
    }

    /// <summary>
    /// Waits until every accepted email is in a final state, then checks that each was delivered and reached the relay,
    /// and counts the messages the relay got more than once (by Message-ID). Asserts at most
    /// <paramref name="allowedDuplicates"/> of those; reports everything to the test output.
    /// </summary>
    /// <param name="expectDeferrals">The fault must have deferred some recipients: proof that it hit emails in flight.</param>
    /// <param name="maxRefused">Requests the ingress may have refused (or not answered): none by default, since a fault
    /// behind the ingress (the relay, a worker, the status service, the broker) must not cost a client its 202; a
    /// scenario whose fault is the ingress itself, or its store, says how many.</param>
    public async Task<FaultOutcome> SettleAsync(string scenario, Sender sender, int allowedDuplicates, bool expectDeferrals = false, int maxRefused = 0)
    {
        await sender.Completion;
        var settling = Stopwatch.StartNew();
        var accepted = sender.Accepted.ToList();
        Assert.True(accepted.Count > 0, $"{scenario}: nothing was accepted ({Describe(sender.Refused)}).{Environment.NewLine}{Stack.Logs}");
        var refused = sender.Refused.Values.Sum();
        Assert.True(refused <= maxRefused,
            $"{scenario}: {refused} request(s) not accepted, at most {maxRefused} allowed ({Describe(sender.Refused)}).{Environment.NewLine}{Stack.Logs}");

        StatusRows rows;
        try
        {
            rows = await Eventually.GetAsync(
                () => StatusRows.ReadAsync(Stack.ConnectionString, accepted),
                r => r.Final == accepted.Count,
                FaultScale.Settle,
                $"{scenario}: every accepted email in a final state");
        }
        catch (TimeoutException ex)
        {
            var report = await StuckRunReport.DescribeAsync(Stack, Relay, accepted, _listQueues);
            _output.WriteLine(report);
            throw new TimeoutException(ex.Message + Environment.NewLine + report + Environment.NewLine + Stack.Logs, ex);
        }

        _output.WriteLine($"{scenario}: every accepted email final {settling.Elapsed.TotalSeconds:F0} s after the last was sent");

        var received = Relay.Received
            .Select(m => MessageId(m.Raw))
            .GroupBy(id => id, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var missing = rows.MessageIds.Values.Count(id => !received.ContainsKey(id));
        var duplicates = rows.MessageIds.Values.Sum(id => Math.Max(0, received.GetValueOrDefault(id) - 1));
        var deferrals = await CountDeferralsAsync(accepted);
        var outcome = new FaultOutcome(scenario, accepted.Count, sender.Refused, rows.ByState, missing, duplicates, deferrals);
        _output.WriteLine(outcome.ToString());

        if (rows.ByState.GetValueOrDefault("delivered") != accepted.Count)
        {
            Assert.Fail($"{outcome}{Environment.NewLine}Not delivered:{Environment.NewLine}{await UndeliveredTimelinesAsync(accepted)}{Environment.NewLine}{Stack.Logs}");
        }

        Assert.True(missing == 0, $"{missing} accepted email(s) never reached the relay: {outcome}");
        Assert.True(duplicates <= allowedDuplicates, $"{duplicates} duplicate(s), at most {allowedDuplicates} allowed: {outcome}");
        Assert.True(!expectDeferrals || deferrals > 0, $"the fault deferred nothing, so it hit no email in flight: {outcome}");
        return outcome;
    }

    public async ValueTask DisposeAsync()
    {
        _clients.ForEach(c => c.Dispose());
        await Stack.DisposeAsync();
        await Relay.DisposeAsync();
    }

    /// <summary>The timelines of a few accepted emails that were not delivered, for the failure message.</summary>
    private async Task<string> UndeliveredTimelinesAsync(IReadOnlyList<Guid> ids)
    {
        await using var connection = new NpgsqlConnection(Stack.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT e.email_id, e.type, e.occurred_at, e.attempt, e.smtp_code, e.smtp_text, e.reason FROM events e " +
            "WHERE e.email_id IN (SELECT id FROM emails WHERE id = ANY(@ids) AND state <> 'delivered' LIMIT 5) ORDER BY e.email_id, e.occurred_at", connection);
        command.Parameters.AddWithValue("ids", ids.ToArray());
        await using var reader = await command.ExecuteReaderAsync();
        var lines = new List<string>();
        while (await reader.ReadAsync())
        {
            lines.Add(string.Join(" | ", Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? "-" : Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture))));
        }

        return string.Join(Environment.NewLine, lines);
    }

    private async Task<long> CountDeferralsAsync(IReadOnlyList<Guid> ids)
    {
        await using var connection = new NpgsqlConnection(Stack.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM events WHERE type = 'email.deferred' AND email_id = ANY(@ids)", connection);
        command.Parameters.AddWithValue("ids", ids.ToArray());
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>The queues of <paramref name="virtualHost"/> on this machine's broker, one per line.</summary>
    private static async Task<string> SharedBrokerQueuesAsync(string virtualHost)
    {
        var (code, output) = await Shell.RunAsync(null, new Dictionary<string, string>(), TimeSpan.FromSeconds(60),
            "rabbitmqctl", "-q", "list_queues", "-p", virtualHost, "name", "messages_ready", "messages_unacknowledged", "consumers");
        return code == 0 ? output : $"rabbitmqctl list_queues failed ({code}): {output}";
    }

    private static string Describe(IReadOnlyDictionary<string, int> counts) =>
        counts.Count == 0 ? "none" : string.Join(", ", counts.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key}×{c.Value}"));

    private static string MessageId(byte[] raw)
    {
        var headers = HeaderList.Load(new MemoryStream(raw));
        return MimeUtils.ParseMessageId(headers[HeaderId.MessageId] ?? "") ?? "";
    }

    /// <summary>What the status service holds for the accepted emails, read from its tables.</summary>
    private sealed record StatusRows(int Final, IReadOnlyDictionary<string, int> ByState, IReadOnlyDictionary<Guid, string> MessageIds)
    {
        private static readonly HashSet<string> FinalStates = ["delivered", "bounced", "failed", "suppressed", "canceled"];

        public static async Task<StatusRows> ReadAsync(string connectionString, IReadOnlyList<Guid> ids)
        {
            var byState = new Dictionary<string, int>(StringComparer.Ordinal);
            var messageIds = new Dictionary<Guid, string>();
            var final = 0;
            try
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand("SELECT id, state, message_id FROM emails WHERE id = ANY(@ids)", connection);
                command.Parameters.AddWithValue("ids", ids.ToArray());
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    var state = reader.GetString(1);
                    byState[state] = byState.GetValueOrDefault(state) + 1;
                    if (!reader.IsDBNull(2))
                    {
                        messageIds[reader.GetGuid(0)] = MimeUtils.ParseMessageId(reader.GetString(2)) ?? reader.GetString(2);
                        final += FinalStates.Contains(state) ? 1 : 0;
                    }
                }
            }
            catch (NpgsqlException)
            {
                // The store may be the thing that is down: report nothing final yet and look again.
            }

            byState["(not recorded yet)"] = ids.Count - byState.Values.Sum();
            return new StatusRows(final, byState, messageIds);
        }

        public override string ToString() =>
            $"{Final} of the accepted emails final; by state: {string.Join(", ", ByState.Select(s => $"{s.Key} {s.Value}"))}";
    }
}

/// <summary>What one scenario ended with, as reported in the test output.</summary>
internal sealed record FaultOutcome(string Scenario, int Accepted, IReadOnlyDictionary<string, int> Refused,
    IReadOnlyDictionary<string, int> ByState, int MissingAtRelay, int Duplicates, long Deferrals)
{
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(System.Globalization.CultureInfo.InvariantCulture, $"[{Scenario}] accepted {Accepted}; not accepted: ");
        text.Append(Refused.Count == 0 ? "none" : string.Join(", ", Refused.Select(r => $"{r.Key}×{r.Value}")));
        text.Append("; final states: ").Append(string.Join(", ", ByState.Where(s => s.Value > 0).Select(s => $"{s.Key} {s.Value}")));
        text.Append(System.Globalization.CultureInfo.InvariantCulture,
            $"; deferrals recorded {Deferrals}; missing at the relay {MissingAtRelay}; duplicates at the relay (by Message-ID) {Duplicates}");
        return text.ToString();
    }
}
