namespace EmailPlatform.Delivery.Smtp;

/// <summary>Where in the SMTP session a reply or a fault happened; used in reasons and logs.</summary>
internal enum SmtpStage
{
    Connect,
    MailFrom,
    RcptTo,
    Data,
}

internal static class SmtpStageNames
{
    public static string Describe(this SmtpStage stage) => stage switch
    {
        SmtpStage.Connect => "the session start",
        SmtpStage.MailFrom => "MAIL FROM",
        SmtpStage.RcptTo => "RCPT TO",
        _ => "DATA",
    };
}
