_medo__gateway() {
    local i cur prev opts cmd
    COMPREPLY=()
    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
        cur="$2"
    else
        cur="${COMP_WORDS[COMP_CWORD]}"
    fi
    prev="$3"
    cmd=""
    opts=""

    for i in "${COMP_WORDS[@]:0:COMP_CWORD}"
    do
        case "${cmd},${i}" in
            ",$1")
                cmd="medo__gateway"
                ;;
            medo__gateway,api)
                cmd="medo__gateway__subcmd__api"
                ;;
            medo__gateway,appeals)
                cmd="medo__gateway__subcmd__appeals"
                ;;
            medo__gateway,documents)
                cmd="medo__gateway__subcmd__documents"
                ;;
            medo__gateway,help)
                cmd="medo__gateway__subcmd__help"
                ;;
            medo__gateway,inspect)
                cmd="medo__gateway__subcmd__inspect"
                ;;
            medo__gateway,journal)
                cmd="medo__gateway__subcmd__journal"
                ;;
            medo__gateway,run)
                cmd="medo__gateway__subcmd__run"
                ;;
            medo__gateway,samples)
                cmd="medo__gateway__subcmd__samples"
                ;;
            medo__gateway,spool)
                cmd="medo__gateway__subcmd__spool"
                ;;
            medo__gateway,sstu)
                cmd="medo__gateway__subcmd__sstu"
                ;;
            medo__gateway,storage)
                cmd="medo__gateway__subcmd__storage"
                ;;
            medo__gateway,store)
                cmd="medo__gateway__subcmd__store"
                ;;
            medo__gateway__subcmd__api,help)
                cmd="medo__gateway__subcmd__api__subcmd__help"
                ;;
            medo__gateway__subcmd__api,token)
                cmd="medo__gateway__subcmd__api__subcmd__token"
                ;;
            medo__gateway__subcmd__api__subcmd__help,help)
                cmd="medo__gateway__subcmd__api__subcmd__help__subcmd__help"
                ;;
            medo__gateway__subcmd__api__subcmd__help,token)
                cmd="medo__gateway__subcmd__api__subcmd__help__subcmd__token"
                ;;
            medo__gateway__subcmd__appeals,assign)
                cmd="medo__gateway__subcmd__appeals__subcmd__assign"
                ;;
            medo__gateway__subcmd__appeals,card)
                cmd="medo__gateway__subcmd__appeals__subcmd__card"
                ;;
            medo__gateway__subcmd__appeals,event)
                cmd="medo__gateway__subcmd__appeals__subcmd__event"
                ;;
            medo__gateway__subcmd__appeals,help)
                cmd="medo__gateway__subcmd__appeals__subcmd__help"
                ;;
            medo__gateway__subcmd__appeals,list)
                cmd="medo__gateway__subcmd__appeals__subcmd__list"
                ;;
            medo__gateway__subcmd__appeals,notice)
                cmd="medo__gateway__subcmd__appeals__subcmd__notice"
                ;;
            medo__gateway__subcmd__appeals,redirect)
                cmd="medo__gateway__subcmd__appeals__subcmd__redirect"
                ;;
            medo__gateway__subcmd__appeals,refuse)
                cmd="medo__gateway__subcmd__appeals__subcmd__refuse"
                ;;
            medo__gateway__subcmd__appeals,register)
                cmd="medo__gateway__subcmd__appeals__subcmd__register"
                ;;
            medo__gateway__subcmd__appeals,show)
                cmd="medo__gateway__subcmd__appeals__subcmd__show"
                ;;
            medo__gateway__subcmd__appeals__subcmd__event,answered)
                cmd="medo__gateway__subcmd__appeals__subcmd__event__subcmd__answered"
                ;;
            medo__gateway__subcmd__appeals__subcmd__event,executor-assigned)
                cmd="medo__gateway__subcmd__appeals__subcmd__event__subcmd__executor__subcmd__assigned"
                ;;
            medo__gateway__subcmd__appeals__subcmd__event,extended)
                cmd="medo__gateway__subcmd__appeals__subcmd__event__subcmd__extended"
                ;;
            medo__gateway__subcmd__appeals__subcmd__event,help)
                cmd="medo__gateway__subcmd__appeals__subcmd__event__subcmd__help"
                ;;
            medo__gateway__subcmd__appeals__subcmd__event,redirected)
                cmd="medo__gateway__subcmd__appeals__subcmd__event__subcmd__redirected"
                ;;
            medo__gateway__subcmd__appeals__subcmd__event__subcmd__help,answered)
                cmd="medo__gateway__subcmd__appeals__subcmd__event__subcmd__help__subcmd__answered"
                ;;
            medo__gateway__subcmd__appeals__subcmd__event__subcmd__help,executor-assigned)
                cmd="medo__gateway__subcmd__appeals__subcmd__event__subcmd__help__subcmd__executor__subcmd__assigned"
                ;;
            medo__gateway__subcmd__appeals__subcmd__event__subcmd__help,extended)
                cmd="medo__gateway__subcmd__appeals__subcmd__event__subcmd__help__subcmd__extended"
                ;;
            medo__gateway__subcmd__appeals__subcmd__event__subcmd__help,help)
                cmd="medo__gateway__subcmd__appeals__subcmd__event__subcmd__help__subcmd__help"
                ;;
            medo__gateway__subcmd__appeals__subcmd__event__subcmd__help,redirected)
                cmd="medo__gateway__subcmd__appeals__subcmd__event__subcmd__help__subcmd__redirected"
                ;;
            medo__gateway__subcmd__appeals__subcmd__help,assign)
                cmd="medo__gateway__subcmd__appeals__subcmd__help__subcmd__assign"
                ;;
            medo__gateway__subcmd__appeals__subcmd__help,card)
                cmd="medo__gateway__subcmd__appeals__subcmd__help__subcmd__card"
                ;;
            medo__gateway__subcmd__appeals__subcmd__help,event)
                cmd="medo__gateway__subcmd__appeals__subcmd__help__subcmd__event"
                ;;
            medo__gateway__subcmd__appeals__subcmd__help,help)
                cmd="medo__gateway__subcmd__appeals__subcmd__help__subcmd__help"
                ;;
            medo__gateway__subcmd__appeals__subcmd__help,list)
                cmd="medo__gateway__subcmd__appeals__subcmd__help__subcmd__list"
                ;;
            medo__gateway__subcmd__appeals__subcmd__help,notice)
                cmd="medo__gateway__subcmd__appeals__subcmd__help__subcmd__notice"
                ;;
            medo__gateway__subcmd__appeals__subcmd__help,redirect)
                cmd="medo__gateway__subcmd__appeals__subcmd__help__subcmd__redirect"
                ;;
            medo__gateway__subcmd__appeals__subcmd__help,refuse)
                cmd="medo__gateway__subcmd__appeals__subcmd__help__subcmd__refuse"
                ;;
            medo__gateway__subcmd__appeals__subcmd__help,register)
                cmd="medo__gateway__subcmd__appeals__subcmd__help__subcmd__register"
                ;;
            medo__gateway__subcmd__appeals__subcmd__help,show)
                cmd="medo__gateway__subcmd__appeals__subcmd__help__subcmd__show"
                ;;
            medo__gateway__subcmd__appeals__subcmd__help__subcmd__event,answered)
                cmd="medo__gateway__subcmd__appeals__subcmd__help__subcmd__event__subcmd__answered"
                ;;
            medo__gateway__subcmd__appeals__subcmd__help__subcmd__event,executor-assigned)
                cmd="medo__gateway__subcmd__appeals__subcmd__help__subcmd__event__subcmd__executor__subcmd__assigned"
                ;;
            medo__gateway__subcmd__appeals__subcmd__help__subcmd__event,extended)
                cmd="medo__gateway__subcmd__appeals__subcmd__help__subcmd__event__subcmd__extended"
                ;;
            medo__gateway__subcmd__appeals__subcmd__help__subcmd__event,redirected)
                cmd="medo__gateway__subcmd__appeals__subcmd__help__subcmd__event__subcmd__redirected"
                ;;
            medo__gateway__subcmd__documents,approve)
                cmd="medo__gateway__subcmd__documents__subcmd__approve"
                ;;
            medo__gateway__subcmd__documents,help)
                cmd="medo__gateway__subcmd__documents__subcmd__help"
                ;;
            medo__gateway__subcmd__documents,list)
                cmd="medo__gateway__subcmd__documents__subcmd__list"
                ;;
            medo__gateway__subcmd__documents__subcmd__help,approve)
                cmd="medo__gateway__subcmd__documents__subcmd__help__subcmd__approve"
                ;;
            medo__gateway__subcmd__documents__subcmd__help,help)
                cmd="medo__gateway__subcmd__documents__subcmd__help__subcmd__help"
                ;;
            medo__gateway__subcmd__documents__subcmd__help,list)
                cmd="medo__gateway__subcmd__documents__subcmd__help__subcmd__list"
                ;;
            medo__gateway__subcmd__help,api)
                cmd="medo__gateway__subcmd__help__subcmd__api"
                ;;
            medo__gateway__subcmd__help,appeals)
                cmd="medo__gateway__subcmd__help__subcmd__appeals"
                ;;
            medo__gateway__subcmd__help,documents)
                cmd="medo__gateway__subcmd__help__subcmd__documents"
                ;;
            medo__gateway__subcmd__help,help)
                cmd="medo__gateway__subcmd__help__subcmd__help"
                ;;
            medo__gateway__subcmd__help,inspect)
                cmd="medo__gateway__subcmd__help__subcmd__inspect"
                ;;
            medo__gateway__subcmd__help,journal)
                cmd="medo__gateway__subcmd__help__subcmd__journal"
                ;;
            medo__gateway__subcmd__help,run)
                cmd="medo__gateway__subcmd__help__subcmd__run"
                ;;
            medo__gateway__subcmd__help,samples)
                cmd="medo__gateway__subcmd__help__subcmd__samples"
                ;;
            medo__gateway__subcmd__help,spool)
                cmd="medo__gateway__subcmd__help__subcmd__spool"
                ;;
            medo__gateway__subcmd__help,sstu)
                cmd="medo__gateway__subcmd__help__subcmd__sstu"
                ;;
            medo__gateway__subcmd__help,storage)
                cmd="medo__gateway__subcmd__help__subcmd__storage"
                ;;
            medo__gateway__subcmd__help,store)
                cmd="medo__gateway__subcmd__help__subcmd__store"
                ;;
            medo__gateway__subcmd__help__subcmd__api,token)
                cmd="medo__gateway__subcmd__help__subcmd__api__subcmd__token"
                ;;
            medo__gateway__subcmd__help__subcmd__appeals,assign)
                cmd="medo__gateway__subcmd__help__subcmd__appeals__subcmd__assign"
                ;;
            medo__gateway__subcmd__help__subcmd__appeals,card)
                cmd="medo__gateway__subcmd__help__subcmd__appeals__subcmd__card"
                ;;
            medo__gateway__subcmd__help__subcmd__appeals,event)
                cmd="medo__gateway__subcmd__help__subcmd__appeals__subcmd__event"
                ;;
            medo__gateway__subcmd__help__subcmd__appeals,list)
                cmd="medo__gateway__subcmd__help__subcmd__appeals__subcmd__list"
                ;;
            medo__gateway__subcmd__help__subcmd__appeals,notice)
                cmd="medo__gateway__subcmd__help__subcmd__appeals__subcmd__notice"
                ;;
            medo__gateway__subcmd__help__subcmd__appeals,redirect)
                cmd="medo__gateway__subcmd__help__subcmd__appeals__subcmd__redirect"
                ;;
            medo__gateway__subcmd__help__subcmd__appeals,refuse)
                cmd="medo__gateway__subcmd__help__subcmd__appeals__subcmd__refuse"
                ;;
            medo__gateway__subcmd__help__subcmd__appeals,register)
                cmd="medo__gateway__subcmd__help__subcmd__appeals__subcmd__register"
                ;;
            medo__gateway__subcmd__help__subcmd__appeals,show)
                cmd="medo__gateway__subcmd__help__subcmd__appeals__subcmd__show"
                ;;
            medo__gateway__subcmd__help__subcmd__appeals__subcmd__event,answered)
                cmd="medo__gateway__subcmd__help__subcmd__appeals__subcmd__event__subcmd__answered"
                ;;
            medo__gateway__subcmd__help__subcmd__appeals__subcmd__event,executor-assigned)
                cmd="medo__gateway__subcmd__help__subcmd__appeals__subcmd__event__subcmd__executor__subcmd__assigned"
                ;;
            medo__gateway__subcmd__help__subcmd__appeals__subcmd__event,extended)
                cmd="medo__gateway__subcmd__help__subcmd__appeals__subcmd__event__subcmd__extended"
                ;;
            medo__gateway__subcmd__help__subcmd__appeals__subcmd__event,redirected)
                cmd="medo__gateway__subcmd__help__subcmd__appeals__subcmd__event__subcmd__redirected"
                ;;
            medo__gateway__subcmd__help__subcmd__documents,approve)
                cmd="medo__gateway__subcmd__help__subcmd__documents__subcmd__approve"
                ;;
            medo__gateway__subcmd__help__subcmd__documents,list)
                cmd="medo__gateway__subcmd__help__subcmd__documents__subcmd__list"
                ;;
            medo__gateway__subcmd__help__subcmd__journal,checkpoint)
                cmd="medo__gateway__subcmd__help__subcmd__journal__subcmd__checkpoint"
                ;;
            medo__gateway__subcmd__help__subcmd__journal,export)
                cmd="medo__gateway__subcmd__help__subcmd__journal__subcmd__export"
                ;;
            medo__gateway__subcmd__help__subcmd__journal,recover)
                cmd="medo__gateway__subcmd__help__subcmd__journal__subcmd__recover"
                ;;
            medo__gateway__subcmd__help__subcmd__journal,verify)
                cmd="medo__gateway__subcmd__help__subcmd__journal__subcmd__verify"
                ;;
            medo__gateway__subcmd__help__subcmd__journal__subcmd__checkpoint,pubkey)
                cmd="medo__gateway__subcmd__help__subcmd__journal__subcmd__checkpoint__subcmd__pubkey"
                ;;
            medo__gateway__subcmd__help__subcmd__journal__subcmd__checkpoint,verify)
                cmd="medo__gateway__subcmd__help__subcmd__journal__subcmd__checkpoint__subcmd__verify"
                ;;
            medo__gateway__subcmd__help__subcmd__spool,list)
                cmd="medo__gateway__subcmd__help__subcmd__spool__subcmd__list"
                ;;
            medo__gateway__subcmd__help__subcmd__spool,retry)
                cmd="medo__gateway__subcmd__help__subcmd__spool__subcmd__retry"
                ;;
            medo__gateway__subcmd__help__subcmd__spool,show)
                cmd="medo__gateway__subcmd__help__subcmd__spool__subcmd__show"
                ;;
            medo__gateway__subcmd__help__subcmd__spool,status)
                cmd="medo__gateway__subcmd__help__subcmd__spool__subcmd__status"
                ;;
            medo__gateway__subcmd__help__subcmd__sstu,export)
                cmd="medo__gateway__subcmd__help__subcmd__sstu__subcmd__export"
                ;;
            medo__gateway__subcmd__help__subcmd__storage,migrate)
                cmd="medo__gateway__subcmd__help__subcmd__storage__subcmd__migrate"
                ;;
            medo__gateway__subcmd__help__subcmd__store,rebuild)
                cmd="medo__gateway__subcmd__help__subcmd__store__subcmd__rebuild"
                ;;
            medo__gateway__subcmd__help__subcmd__store,verify)
                cmd="medo__gateway__subcmd__help__subcmd__store__subcmd__verify"
                ;;
            medo__gateway__subcmd__journal,checkpoint)
                cmd="medo__gateway__subcmd__journal__subcmd__checkpoint"
                ;;
            medo__gateway__subcmd__journal,export)
                cmd="medo__gateway__subcmd__journal__subcmd__export"
                ;;
            medo__gateway__subcmd__journal,help)
                cmd="medo__gateway__subcmd__journal__subcmd__help"
                ;;
            medo__gateway__subcmd__journal,recover)
                cmd="medo__gateway__subcmd__journal__subcmd__recover"
                ;;
            medo__gateway__subcmd__journal,verify)
                cmd="medo__gateway__subcmd__journal__subcmd__verify"
                ;;
            medo__gateway__subcmd__journal__subcmd__checkpoint,help)
                cmd="medo__gateway__subcmd__journal__subcmd__checkpoint__subcmd__help"
                ;;
            medo__gateway__subcmd__journal__subcmd__checkpoint,pubkey)
                cmd="medo__gateway__subcmd__journal__subcmd__checkpoint__subcmd__pubkey"
                ;;
            medo__gateway__subcmd__journal__subcmd__checkpoint,verify)
                cmd="medo__gateway__subcmd__journal__subcmd__checkpoint__subcmd__verify"
                ;;
            medo__gateway__subcmd__journal__subcmd__checkpoint__subcmd__help,help)
                cmd="medo__gateway__subcmd__journal__subcmd__checkpoint__subcmd__help__subcmd__help"
                ;;
            medo__gateway__subcmd__journal__subcmd__checkpoint__subcmd__help,pubkey)
                cmd="medo__gateway__subcmd__journal__subcmd__checkpoint__subcmd__help__subcmd__pubkey"
                ;;
            medo__gateway__subcmd__journal__subcmd__checkpoint__subcmd__help,verify)
                cmd="medo__gateway__subcmd__journal__subcmd__checkpoint__subcmd__help__subcmd__verify"
                ;;
            medo__gateway__subcmd__journal__subcmd__help,checkpoint)
                cmd="medo__gateway__subcmd__journal__subcmd__help__subcmd__checkpoint"
                ;;
            medo__gateway__subcmd__journal__subcmd__help,export)
                cmd="medo__gateway__subcmd__journal__subcmd__help__subcmd__export"
                ;;
            medo__gateway__subcmd__journal__subcmd__help,help)
                cmd="medo__gateway__subcmd__journal__subcmd__help__subcmd__help"
                ;;
            medo__gateway__subcmd__journal__subcmd__help,recover)
                cmd="medo__gateway__subcmd__journal__subcmd__help__subcmd__recover"
                ;;
            medo__gateway__subcmd__journal__subcmd__help,verify)
                cmd="medo__gateway__subcmd__journal__subcmd__help__subcmd__verify"
                ;;
            medo__gateway__subcmd__journal__subcmd__help__subcmd__checkpoint,pubkey)
                cmd="medo__gateway__subcmd__journal__subcmd__help__subcmd__checkpoint__subcmd__pubkey"
                ;;
            medo__gateway__subcmd__journal__subcmd__help__subcmd__checkpoint,verify)
                cmd="medo__gateway__subcmd__journal__subcmd__help__subcmd__checkpoint__subcmd__verify"
                ;;
            medo__gateway__subcmd__spool,help)
                cmd="medo__gateway__subcmd__spool__subcmd__help"
                ;;
            medo__gateway__subcmd__spool,list)
                cmd="medo__gateway__subcmd__spool__subcmd__list"
                ;;
            medo__gateway__subcmd__spool,retry)
                cmd="medo__gateway__subcmd__spool__subcmd__retry"
                ;;
            medo__gateway__subcmd__spool,show)
                cmd="medo__gateway__subcmd__spool__subcmd__show"
                ;;
            medo__gateway__subcmd__spool,status)
                cmd="medo__gateway__subcmd__spool__subcmd__status"
                ;;
            medo__gateway__subcmd__spool__subcmd__help,help)
                cmd="medo__gateway__subcmd__spool__subcmd__help__subcmd__help"
                ;;
            medo__gateway__subcmd__spool__subcmd__help,list)
                cmd="medo__gateway__subcmd__spool__subcmd__help__subcmd__list"
                ;;
            medo__gateway__subcmd__spool__subcmd__help,retry)
                cmd="medo__gateway__subcmd__spool__subcmd__help__subcmd__retry"
                ;;
            medo__gateway__subcmd__spool__subcmd__help,show)
                cmd="medo__gateway__subcmd__spool__subcmd__help__subcmd__show"
                ;;
            medo__gateway__subcmd__spool__subcmd__help,status)
                cmd="medo__gateway__subcmd__spool__subcmd__help__subcmd__status"
                ;;
            medo__gateway__subcmd__sstu,export)
                cmd="medo__gateway__subcmd__sstu__subcmd__export"
                ;;
            medo__gateway__subcmd__sstu,help)
                cmd="medo__gateway__subcmd__sstu__subcmd__help"
                ;;
            medo__gateway__subcmd__sstu__subcmd__help,export)
                cmd="medo__gateway__subcmd__sstu__subcmd__help__subcmd__export"
                ;;
            medo__gateway__subcmd__sstu__subcmd__help,help)
                cmd="medo__gateway__subcmd__sstu__subcmd__help__subcmd__help"
                ;;
            medo__gateway__subcmd__storage,help)
                cmd="medo__gateway__subcmd__storage__subcmd__help"
                ;;
            medo__gateway__subcmd__storage,migrate)
                cmd="medo__gateway__subcmd__storage__subcmd__migrate"
                ;;
            medo__gateway__subcmd__storage__subcmd__help,help)
                cmd="medo__gateway__subcmd__storage__subcmd__help__subcmd__help"
                ;;
            medo__gateway__subcmd__storage__subcmd__help,migrate)
                cmd="medo__gateway__subcmd__storage__subcmd__help__subcmd__migrate"
                ;;
            medo__gateway__subcmd__store,help)
                cmd="medo__gateway__subcmd__store__subcmd__help"
                ;;
            medo__gateway__subcmd__store,rebuild)
                cmd="medo__gateway__subcmd__store__subcmd__rebuild"
                ;;
            medo__gateway__subcmd__store,verify)
                cmd="medo__gateway__subcmd__store__subcmd__verify"
                ;;
            medo__gateway__subcmd__store__subcmd__help,help)
                cmd="medo__gateway__subcmd__store__subcmd__help__subcmd__help"
                ;;
            medo__gateway__subcmd__store__subcmd__help,rebuild)
                cmd="medo__gateway__subcmd__store__subcmd__help__subcmd__rebuild"
                ;;
            medo__gateway__subcmd__store__subcmd__help,verify)
                cmd="medo__gateway__subcmd__store__subcmd__help__subcmd__verify"
                ;;
            *)
                ;;
        esac
    done

    case "${cmd}" in
        medo__gateway)
            opts="-h -V --config --log-format --help --version inspect samples run journal store storage spool sstu api documents appeals help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 1 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__api)
            opts="-h --config --log-format --help token help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__api__subcmd__help)
            opts="token help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__api__subcmd__help__subcmd__help)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__api__subcmd__help__subcmd__token)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__api__subcmd__token)
            opts="-h --scopes --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --scopes)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals)
            opts="-h --body --config --log-format --help list show register refuse redirect assign card notice event help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --body)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__assign)
            opts="-h --body --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --body)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__card)
            opts="-h --name --code --address --email --body --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --name)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --code)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --address)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --email)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --body)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__event)
            opts="-h --body --config --log-format --help executor-assigned extended redirected answered help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --body)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__event__subcmd__answered)
            opts="-h --result --file --body --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --result)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --body)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__event__subcmd__executor__subcmd__assigned)
            opts="-h --executor --post --body --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --executor)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --post)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --body)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__event__subcmd__extended)
            opts="-h --until --reason --file --body --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --until)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --reason)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --body)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__event__subcmd__help)
            opts="executor-assigned extended redirected answered help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__event__subcmd__help__subcmd__answered)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 5 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__event__subcmd__help__subcmd__executor__subcmd__assigned)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 5 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__event__subcmd__help__subcmd__extended)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 5 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__event__subcmd__help__subcmd__help)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 5 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__event__subcmd__help__subcmd__redirected)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 5 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__event__subcmd__redirected)
            opts="-h --to --sstu-id --number --file --body --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --to)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --sstu-id)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --number)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --body)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__help)
            opts="list show register refuse redirect assign card notice event help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__help__subcmd__assign)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__help__subcmd__card)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__help__subcmd__event)
            opts="executor-assigned extended redirected answered"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__help__subcmd__event__subcmd__answered)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 5 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__help__subcmd__event__subcmd__executor__subcmd__assigned)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 5 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__help__subcmd__event__subcmd__extended)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 5 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__help__subcmd__event__subcmd__redirected)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 5 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__help__subcmd__help)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__help__subcmd__list)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__help__subcmd__notice)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__help__subcmd__redirect)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__help__subcmd__refuse)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__help__subcmd__register)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__help__subcmd__show)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__list)
            opts="-h --overdue --undecided --due-within --json --limit --after --all --body --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --due-within)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --limit)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --after)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --body)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__notice)
            opts="-h --out --kind --body --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --out)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --kind)
                    COMPREPLY=($(compgen -W "redirect extension registration" -- "${cur}"))
                    return 0
                    ;;
                --body)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__redirect)
            opts="-h --to --comment --body --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --to)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --comment)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --body)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__refuse)
            opts="-h --reason --comment --body --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --reason)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --comment)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --body)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__register)
            opts="-h --number --force --comment --date --body --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --number)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --comment)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --date)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --body)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__appeals__subcmd__show)
            opts="-h --json --pin --body --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --body)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__documents)
            opts="-h --config --log-format --help list approve help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__documents__subcmd__approve)
            opts="-h --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__documents__subcmd__help)
            opts="list approve help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__documents__subcmd__help__subcmd__approve)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__documents__subcmd__help__subcmd__help)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__documents__subcmd__help__subcmd__list)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__documents__subcmd__list)
            opts="-h --pending --json --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help)
            opts="inspect samples run journal store storage spool sstu api documents appeals help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__api)
            opts="token"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__api__subcmd__token)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__appeals)
            opts="list show register refuse redirect assign card notice event"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__appeals__subcmd__assign)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__appeals__subcmd__card)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__appeals__subcmd__event)
            opts="executor-assigned extended redirected answered"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__appeals__subcmd__event__subcmd__answered)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 5 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__appeals__subcmd__event__subcmd__executor__subcmd__assigned)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 5 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__appeals__subcmd__event__subcmd__extended)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 5 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__appeals__subcmd__event__subcmd__redirected)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 5 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__appeals__subcmd__list)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__appeals__subcmd__notice)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__appeals__subcmd__redirect)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__appeals__subcmd__refuse)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__appeals__subcmd__register)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__appeals__subcmd__show)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__documents)
            opts="list approve"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__documents__subcmd__approve)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__documents__subcmd__list)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__help)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__inspect)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__journal)
            opts="verify checkpoint recover export"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__journal__subcmd__checkpoint)
            opts="pubkey verify"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__journal__subcmd__checkpoint__subcmd__pubkey)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 5 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__journal__subcmd__checkpoint__subcmd__verify)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 5 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__journal__subcmd__export)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__journal__subcmd__recover)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__journal__subcmd__verify)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__run)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__samples)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__spool)
            opts="status list show retry"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__spool__subcmd__list)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__spool__subcmd__retry)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__spool__subcmd__show)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__spool__subcmd__status)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__sstu)
            opts="export"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__sstu__subcmd__export)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__storage)
            opts="migrate"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__storage__subcmd__migrate)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__store)
            opts="rebuild verify"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__store__subcmd__rebuild)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__help__subcmd__store__subcmd__verify)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__inspect)
            opts="-h --compact --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__journal)
            opts="-h --config --log-format --help verify checkpoint recover export help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__journal__subcmd__checkpoint)
            opts="-h --config --log-format --help pubkey verify help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__journal__subcmd__checkpoint__subcmd__help)
            opts="pubkey verify help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__journal__subcmd__checkpoint__subcmd__help__subcmd__help)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 5 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__journal__subcmd__checkpoint__subcmd__help__subcmd__pubkey)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 5 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__journal__subcmd__checkpoint__subcmd__help__subcmd__verify)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 5 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__journal__subcmd__checkpoint__subcmd__pubkey)
            opts="-h --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__journal__subcmd__checkpoint__subcmd__verify)
            opts="-h --pubkey --json --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --pubkey)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__journal__subcmd__export)
            opts="-h --format --excel --since --until --appeal --partner --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --format)
                    COMPREPLY=($(compgen -W "jsonl csv" -- "${cur}"))
                    return 0
                    ;;
                --since)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --until)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --appeal)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --partner)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__journal__subcmd__help)
            opts="verify checkpoint recover export help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__journal__subcmd__help__subcmd__checkpoint)
            opts="pubkey verify"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__journal__subcmd__help__subcmd__checkpoint__subcmd__pubkey)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 5 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__journal__subcmd__help__subcmd__checkpoint__subcmd__verify)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 5 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__journal__subcmd__help__subcmd__export)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__journal__subcmd__help__subcmd__help)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__journal__subcmd__help__subcmd__recover)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__journal__subcmd__help__subcmd__verify)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__journal__subcmd__recover)
            opts="-h --accept-missing --from-witness --comment --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --accept-missing)
                    COMPREPLY=($(compgen -W "anchor checkpoint-key pin-key" -- "${cur}"))
                    return 0
                    ;;
                --from-witness)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --comment)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__journal__subcmd__verify)
            opts="-h --json --witness --file --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --witness)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__run)
            opts="-h --once --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__samples)
            opts="-h --out --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --out)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__spool)
            opts="-h --config --log-format --help status list show retry help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__spool__subcmd__help)
            opts="status list show retry help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__spool__subcmd__help__subcmd__help)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__spool__subcmd__help__subcmd__list)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__spool__subcmd__help__subcmd__retry)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__spool__subcmd__help__subcmd__show)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__spool__subcmd__help__subcmd__status)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__spool__subcmd__list)
            opts="-h --state --json --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --state)
                    COMPREPLY=($(compgen -W "ready incomplete processing quarantined archived held vanished outbound rejected" -- "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__spool__subcmd__retry)
            opts="-h --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__spool__subcmd__show)
            opts="-h --json --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__spool__subcmd__status)
            opts="-h --json --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__sstu)
            opts="-h --config --log-format --help export help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__sstu__subcmd__export)
            opts="-h --out --zip --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --out)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__sstu__subcmd__help)
            opts="export help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__sstu__subcmd__help__subcmd__export)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__sstu__subcmd__help__subcmd__help)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__storage)
            opts="-h --config --log-format --help migrate help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__storage__subcmd__help)
            opts="migrate help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__storage__subcmd__help__subcmd__help)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__storage__subcmd__help__subcmd__migrate)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__storage__subcmd__migrate)
            opts="-h --to --url --url-file --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --to)
                    COMPREPLY=($(compgen -W "postgres files" -- "${cur}"))
                    return 0
                    ;;
                --url)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --url-file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__store)
            opts="-h --config --log-format --help rebuild verify help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__store__subcmd__help)
            opts="rebuild verify help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__store__subcmd__help__subcmd__help)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__store__subcmd__help__subcmd__rebuild)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__store__subcmd__help__subcmd__verify)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__store__subcmd__rebuild)
            opts="-h --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        medo__subcmd__gateway__subcmd__store__subcmd__verify)
            opts="-h --config --log-format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --config)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-format)
                    COMPREPLY=($(compgen -W "text json" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
    esac
}

if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _medo__gateway -o nosort -o bashdefault -o default medo-gateway
else
    complete -F _medo__gateway -o bashdefault -o default medo-gateway
fi
