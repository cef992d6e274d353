using EmailPlatform.Contracts;
using MassTransit;

namespace EmailPlatform.StatusBench;

/// <summary>
/// The messages of a day's traffic, in the order the ingress and the workers would publish them: emails accepted and
/// queued in waves of <see cref="Wave"/> (one message each, the <see cref="EmailAccepted"/> carrying its
/// <see cref="EmailQueued"/>, as the ingress publishes an email sent at once), then their outcomes. Each email has two
/// recipients (to + cc); 10% of recipients are deferred once and delivered on the second attempt, 2% bounce (5.1.1, so
/// they are also suppressed), the rest are delivered. Figures are per event recorded: 4.2 events in 3.2 messages an email.
/// Bodies are a one-line receipt unless a body size is given: then an HTML part of that many characters and a text part
/// of half as many, the size of a real transactional email's.
/// </summary>
internal static class EventMix
{
    private const int Wave = 1000;
    private static readonly SmtpReply Ok = new(250, "2.0.0", "Ok: queued as 4F2A1");
    private static readonly SmtpReply Greylisted = new(451, "4.7.1", "Greylisted, try again later");
    private static readonly SmtpReply UserUnknown = new(550, "5.1.1", "User unknown");

    /// <summary>The events a message carries, in the order the status service's consumer records them.</summary>
    public static IReadOnlyList<object> Events(object message) =>
        message is EmailAccepted { Queued: { } queued } accepted ? [accepted, queued] : [message];

    public static int EventCount(IEnumerable<object> messages) => messages.Sum(m => Events(m).Count);

    /// <summary>Messages carrying at least <paramref name="count"/> events (whole emails), deterministic for a seed.</summary>
    public static List<object> Create(int count, int seed = 42, int bodySize = 0)
    {
        var html = bodySize > 0 ? Filler("<p>Thanks for your order. Your items ship within two days.</p>\n", bodySize) : "<p>Thanks for your order.</p>";
        var text = bodySize > 0 ? Filler("Thanks for your order. Your items ship within two days.\n", bodySize / 2) : "Thanks for your order.";
        var random = new Random(seed);
        var events = new List<object>(count + 16);
        var recorded = 0;
        var now = DateTimeOffset.UtcNow;
        while (recorded < count)
        {
            var wave = Enumerable.Range(0, Wave).Select(_ => NewId.NextGuid()).ToList();
            var outcomes = new List<object>();
            var retries = new List<object>();
            foreach (var emailId in wave)
            {
                var recipients = new[] { $"user{random.Next(1_000_000)}@example.com", $"copy{random.Next(1_000_000)}@example.org" };
                events.Add(new EmailAccepted(NewId.NextGuid(), emailId, $"<{emailId:N}@bench.test>", "Acme <noreply@acme.test>",
                    [recipients[0]], [recipients[1]], [], [], "Your receipt", html, text,
                    [], [new EmailTag("category", "receipt")], new Dictionary<string, string> { ["order_id"] = "A-" + random.Next(100_000) },
                    EmailPriority.Normal, now, null, now)
                {
                    Queued = new EmailQueued(NewId.NextGuid(), emailId, now),
                });
                recorded += 2;
                foreach (var recipient in recipients)
                {
                    var roll = random.Next(100);
                    if (roll < 2)
                    {
                        outcomes.Add(new EmailBounced(NewId.NextGuid(), emailId, recipient, "relay-a", 1, UserUnknown, now));
                    }
                    else if (roll < 12)
                    {
                        outcomes.Add(new EmailDeferred(NewId.NextGuid(), emailId, recipient, "relay-a", 1, Greylisted, "greylisted", now.AddMinutes(5), now));
                        retries.Add(new EmailDelivered(NewId.NextGuid(), emailId, recipient, "relay-b", 2, Ok, now));
                    }
                    else
                    {
                        outcomes.Add(new EmailDelivered(NewId.NextGuid(), emailId, recipient, "relay-a", 1, Ok, now));
                    }
                }
            }

            events.AddRange(outcomes);
            events.AddRange(retries);
            recorded += outcomes.Count + retries.Count;
        }

        return events;
    }

    private static string Filler(string line, int size) =>
        string.Concat(Enumerable.Repeat(line, size / line.Length + 1))[..size];
}
