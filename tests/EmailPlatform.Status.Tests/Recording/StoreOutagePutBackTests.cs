using System.Text.Json;
using EmailPlatform.ServiceDefaults.Messaging;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace EmailPlatform.Status.Tests.Recording;

/// <summary>
/// The store stays away for longer than the consumers wait for it (<see cref="StoreOutageRetry"/>, shortened here from
/// 23 minutes to a few seconds): the events go back into their queues instead of to the error queues, and are recorded
/// once the store is back.
/// </summary>
[Collection(RecordedEventsCounter.Collection)]
public sealed class StoreOutagePutBackTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    /// <summary>Three tries a second apart: the wait a message gets for its store before it is put back.</summary>
    private static readonly StoreOutageSchedule Short = new(3, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), TimeSpan.Zero);

    [Fact]
    public async Task EventsWhoseStoreStaysAwayLongerThanTheOutageRetryAreRecordedOnceItIsBackAndNoneGoesToAnErrorQueue()
    {
        await using var database = await TemporaryDatabase.CreateAsync();
        var target = new NpgsqlConnectionStringBuilder(database.ConnectionString);
        await using var store = new StoreOutageProxy(target.Host!, target.Port);
        await using var api = await StatusApi.StartAsync(
            new Dictionary<string, string> { ["ConnectionStrings:Postgres"] = store.Route(database.ConnectionString) },
            s => s.AddSingleton(Short),
            database);
        using var client = api.CreateClient();
        await api.WaitForBusAsync(Timeout);
        var bus = api.Services.GetRequiredService<IBus>();
        var emailId = Guid.NewGuid();

        store.Cut();
        await bus.Publish(TestEvents.Accepted(emailId, to: ["alice@example.com"]));
        await bus.Publish(TestEvents.Delivered(emailId, "alice@example.com"));

        // Each event outlasts its endpoint's wait for the store: put back into its queue, or (as they were) faulted.
        string[] queues = ["email-lifecycle", "recipient-outcome"];
        foreach (var queue in queues)
        {
            await Eventually.GetAsync(
                async () => await PutBackProbe.PutBackAsync(client, queue) || await PutBackProbe.MessagesInAsync(api.RabbitMqUri, queue + "_error") > 0,
                done => done, Timeout, $"the event in {queue} to outlast the wait for the store");
        }

        store.Restore();

        foreach (var queue in queues)
        {
            Assert.Equal(0u, await PutBackProbe.MessagesInAsync(api.RabbitMqUri, queue + "_error"));
        }

        var email = await Eventually.GetAsync(
            async () =>
            {
                using var response = await client.GetAsync(new Uri($"/v1/emails/{emailId}", UriKind.Relative));
                return response.IsSuccessStatusCode ? await response.Content.ReadAsStringAsync() : null;
            },
            json => json is not null && LastEvent(json) == "delivered",
            Timeout,
            "both events to be recorded once the store is back");
        using var recorded = JsonDocument.Parse(email!);
        Assert.Equal(["email.accepted", "email.delivered"],
            recorded.RootElement.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("type").GetString()).Order(StringComparer.Ordinal));
        foreach (var queue in queues)
        {
            Assert.Equal(0u, await PutBackProbe.MessagesInAsync(api.RabbitMqUri, queue + "_error"));
        }
    }

    private static string? LastEvent(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.GetProperty("last_event").GetString();
    }
}
