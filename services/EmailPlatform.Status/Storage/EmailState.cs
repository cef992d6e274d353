namespace EmailPlatform.Status.Storage;

/// <summary>The state of a recipient, and the state derived for an email from its recipients.</summary>
public enum EmailState
{
    Scheduled,
    Queued,
    Sending,
    Deferred,
    Delivered,
    Bounced,
    Failed,
    Suppressed,
    Canceled,
}

public static class EmailStates
{
    public static bool IsTerminal(this EmailState state) => state >= EmailState.Delivered;

    /// <summary>How far a state is along the way; an event never moves a recipient backwards within an attempt.</summary>
    public static int Progress(this EmailState state) => state switch
    {
        EmailState.Scheduled => 0,
        EmailState.Queued => 1,
        EmailState.Sending => 2,
        EmailState.Deferred => 3,
        _ => 4,
    };

    /// <summary>
    /// An email is as far along as its least advanced recipient, except that one deferred recipient makes it
    /// <c>deferred</c> (a delay is what a sender needs to see); once all are final, it is delivered only if all were
    /// delivered, otherwise it shows the worst final state so a partial failure is visible.
    /// </summary>
    public static EmailState Derive(IEnumerable<EmailState> recipients)
    {
        var states = recipients.ToList();
        if (states.Count == 0)
        {
            return EmailState.Queued;
        }

        var pending = states.Where(s => !s.IsTerminal()).ToList();
        if (pending.Count > 0)
        {
            return pending.Contains(EmailState.Deferred) ? EmailState.Deferred : pending.Min();
        }

        EmailState[] worstFirst = [EmailState.Bounced, EmailState.Failed, EmailState.Suppressed, EmailState.Canceled];
        return worstFirst.FirstOrDefault(states.Contains, EmailState.Delivered);
    }

    /// <summary>An email's Resend <c>last_event</c>: its state's, or <c>complained</c> while a complaint is its latest news.</summary>
    public static string LastEvent(this EmailRecord email) => email.LastEventIsComplaint ? "complained" : email.State.ToLastEvent();

    /// <summary>The Resend <c>last_event</c> vocabulary; our <c>deferred</c> is their <c>delivery_delayed</c>.</summary>
    public static string ToLastEvent(this EmailState state) => state switch
    {
        EmailState.Scheduled => "scheduled",
        EmailState.Queued or EmailState.Sending => "queued",
        EmailState.Deferred => "delivery_delayed",
        EmailState.Delivered => "delivered",
        EmailState.Bounced => "bounced",
        EmailState.Failed => "failed",
        EmailState.Suppressed => "suppressed",
        _ => "canceled",
    };

    public static string ToWire(this EmailState state) => state.ToString().ToLowerInvariant();
}
